import { describe, expect, it } from "vitest";
import type {
  ChangeSource,
  ChangeSourceHandlers,
  StatementAnalysis,
  StatementAnalyzer,
} from "../src/index.js";
import { createCacheWatch } from "../src/index.js";
import { deferred } from "./support/wait.js";

// Pure engine logic: the load scope is released while no loader runs (a hit then pays no
// promise hook), and never while one still does, in this engine or another.

class ManualSource implements ChangeSource {
  readonly kind = "manual";
  handlers: ChangeSourceHandlers | undefined;
  async start(handlers: ChangeSourceHandlers): Promise<void> {
    this.handlers = handlers;
    handlers.onReady();
  }
  async stop(): Promise<void> {}
  change(table: string): void {
    this.handlers?.onChange({ schema: "public", table, operation: "update", receivedAt: Date.now() });
  }
}

const readsOf = (table: string): StatementAnalysis => ({
  reads: [{ schema: "public", table }],
  writes: [],
  opaque: undefined,
  sessionDependent: undefined,
  transaction: undefined,
});
const analyzer: StatementAnalyzer = {
  analyze: (sql) => readsOf(sql.replace("select * from ", "")),
  invalidateCatalog() {},
  async close() {},
};

async function engine() {
  const source = new ManualSource();
  const watch = createCacheWatch({ source, analyzer });
  await watch.start();
  let loads = 0;
  /** A read whose statement is sent only once `gate` opens (after other loads may have ended). */
  const read = (table: string, gate?: Promise<void>) =>
    watch.load({ key: table }, async () => {
      await gate;
      return watch.runStatement({ sql: `select * from ${table}` }, async () => ({ table, load: ++loads }));
    });
  return { watch, source, read };
}

describe("load scope", () => {
  it("a statement sent after another load ended still counts for its own load", async () => {
    const { watch, source, read } = await engine();
    const gate = deferred<void>();
    const slow = read("posts", gate.promise);
    // Another load starts and ends while the first still waits to send its statement.
    const quick = await read("users");
    await new Promise((resolve) => setImmediate(resolve));
    gate.resolve();
    const first = await slow;
    expect(await read("posts")).toEqual(first);
    expect(watch.stats().hits).toBe(1);
    // The statement was recorded: a change to its table drops the entry.
    source.change("posts");
    expect(await read("posts")).not.toEqual(first);
    expect(await read("users")).toEqual(quick);
    await watch.stop();
  });

  it("across engines: one engine's loads ending does not release another's", async () => {
    const a = await engine();
    const b = await engine();
    const gate = deferred<void>();
    const slow = a.read("posts", gate.promise);
    await b.read("users");
    await b.read("comments");
    await new Promise((resolve) => setImmediate(resolve));
    gate.resolve();
    const first = await slow;
    expect(await a.read("posts")).toEqual(first);
    a.source.change("posts");
    expect(await a.read("posts")).not.toEqual(first);
    await a.watch.stop();
    await b.watch.stop();
  });

  it("a cached read inside a load, after the scope was released and entered again, adds its tags", async () => {
    const { watch, source, read } = await engine();
    await read("users");
    // Every load has ended: the scope was released. An outer load reads "users" from the cache.
    const outer = () =>
      watch.load({ key: "outer", tables: ["other"] }, async () => ({
        inner: await read("users"),
        at: Math.random(),
      }));
    const first = await outer();
    expect(await outer()).toEqual(first);
    source.change("users");
    expect(await outer()).not.toEqual(first);
    await watch.stop();
  });
});
