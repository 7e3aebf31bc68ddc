import { describe, expect, it } from "vitest";
import { bindConstraint } from "../src/engine/row-tags.js";
import type { RowConstraint } from "../src/engine/statement-analysis.js";
import type {
  ChangeEvent,
  ChangeSource,
  ChangeSourceHandlers,
  StatementAnalysis,
  StatementAnalyzer,
} from "../src/index.js";
import { createCacheWatch } from "../src/index.js";
import { deferred } from "./support/wait.js";

// Pure engine logic: a change source driven by the test and an analyzer that answers from a table.

class ManualSource implements ChangeSource {
  readonly kind = "manual";
  handlers: ChangeSourceHandlers | undefined;
  async start(handlers: ChangeSourceHandlers): Promise<void> {
    this.handlers = handlers;
    handlers.onReady();
  }
  async stop(): Promise<void> {}
  emit(event: Omit<ChangeEvent, "receivedAt" | "schema"> & { schema?: string }): void {
    this.handlers?.onChange({ schema: "public", receivedAt: Date.now(), ...event });
  }
}

const posts = { schema: "public", table: "posts" };
const byId: RowConstraint = { table: posts, column: "id", type: "int", values: [{ param: 1 }] };
const analyses: Record<string, StatementAnalysis> = {
  "select * from posts where id = $1": {
    reads: [posts],
    rowReads: [byId],
    writes: [],
    opaque: undefined,
    sessionDependent: undefined,
    transaction: undefined,
  },
  "select * from posts": {
    reads: [posts],
    writes: [],
    opaque: undefined,
    sessionDependent: undefined,
    transaction: undefined,
  },
};
const analyzer: StatementAnalyzer = {
  analyze: (sql) => {
    const found = analyses[sql];
    if (!found) throw new Error(`no analysis for ${sql}`);
    return found;
  },
  invalidateCatalog() {},
  async close() {},
};

async function engine() {
  const source = new ManualSource();
  const watch = createCacheWatch({ source, analyzer });
  await watch.start();
  let loads = 0;
  const read = (sql: string, params: unknown[] = [], gate?: Promise<void>) =>
    watch.load({ key: `${sql}|${JSON.stringify(params)}` }, () =>
      watch.runStatement({ sql, params }, async () => {
        await gate;
        return { loads: ++loads, params };
      }),
    );
  return { watch, source, read, loads: () => loads };
}

describe("row-level invalidation in the engine", () => {
  it("an event on other rows keeps the entry; one on its row drops it", async () => {
    const { watch, source, read } = await engine();
    const sql = "select * from posts where id = $1";
    const first = await read(sql, [5]);
    expect(await read(sql, [5])).toEqual(first);
    source.emit({ table: "posts", operation: "update", columns: { id: ["7", "8"] } });
    expect(await read(sql, [5])).toEqual(first);
    source.emit({ table: "posts", operation: "update", columns: { id: ["8", "5"] } });
    expect(await read(sql, [5])).not.toEqual(first);
    expect(watch.stats().hits).toBe(2);
    await watch.stop();
  });

  it("an event without values for the constrained column, or without columns at all, drops it", async () => {
    const { watch, source, read } = await engine();
    const sql = "select * from posts where id = $1";
    const first = await read(sql, [5]);
    source.emit({ table: "posts", operation: "update", columns: { author_id: ["3"] } });
    const second = await read(sql, [5]);
    expect(second).not.toEqual(first);
    source.emit({ table: "posts", operation: "truncate" });
    expect(await read(sql, [5])).not.toEqual(second);
    await watch.stop();
  });

  it("a whole-table read is dropped by any event on the table, a row read of another table is not", async () => {
    const { watch, source, read } = await engine();
    const all = await read("select * from posts");
    const row = await read("select * from posts where id = $1", [1]);
    source.emit({ table: "posts", operation: "insert", columns: { id: ["99"] } });
    expect(await read("select * from posts")).not.toEqual(all);
    expect(await read("select * from posts where id = $1", [1])).toEqual(row);
    source.emit({ table: "comments", operation: "delete" });
    expect(await read("select * from posts where id = $1", [1])).toEqual(row);
    await watch.stop();
  });

  it("fill guard per row: a write to row 7 while row 5 loads does not refuse row 5's fill; a write to row 5 does", async () => {
    const { watch, source, read } = await engine();
    const sql = "select * from posts where id = $1";
    const gate = deferred<void>();
    const loading = read(sql, [5], gate.promise);
    await new Promise((resolve) => setImmediate(resolve));
    source.emit({ table: "posts", operation: "update", columns: { id: ["7"] } });
    gate.resolve();
    const first = await loading;
    expect(await read(sql, [5])).toEqual(first);
    expect(watch.stats().fillsRejected).toBe(0);

    const gate2 = deferred<void>();
    const loading6 = read(sql, [6], gate2.promise);
    await new Promise((resolve) => setImmediate(resolve));
    source.emit({ table: "posts", operation: "update", columns: { id: ["6"] } });
    gate2.resolve();
    const six = await loading6;
    expect(watch.stats().fillsRejected).toBe(1);
    expect(await read(sql, [6])).not.toEqual(six);
    await watch.stop();
  });

  it("a write through the engine (read-your-writes) drops the table's row-level entries too", async () => {
    const { watch, read } = await engine();
    const sql = "select * from posts where id = $1";
    const first = await read(sql, [5]);
    watch.beginMutation(["posts"]).complete();
    expect(await read(sql, [5])).not.toEqual(first);
    await watch.stop();
  });
});

describe("binding constraint values to parameters", () => {
  const c = (type: RowConstraint["type"], values: RowConstraint["values"]): RowConstraint => ({
    table: posts,
    column: "id",
    type,
    values,
  });
  it("prints values as PostgreSQL does for the column's type", () => {
    expect(bindConstraint(c("int", [{ param: 1 }, { literal: "007" }]), [42n])).toEqual(["42", "7"]);
    expect(bindConstraint(c("int", [{ param: 1 }]), ["12"])).toEqual(["12"]);
    expect(bindConstraint(c("uuid", [{ param: 1 }]), ["{A0EEBC99-9C0B4EF8-BB6D-6BB9BD380A11}"])).toEqual([
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    ]);
    expect(bindConstraint(c("int", [{ param: 1, array: true }]), [[1, null, 3]])).toEqual(["1", "3"]);
    expect(bindConstraint(c("text", [{ param: 1 }]), ["Ada"])).toEqual(["Ada"]);
  });
  it("gives up (whole table) on what it cannot print faithfully", () => {
    expect(bindConstraint(c("int", [{ param: 1 }]), [1.5])).toBeUndefined();
    expect(bindConstraint(c("int", [{ param: 2 }]), [1])).toBeUndefined();
    expect(bindConstraint(c("text", [{ param: 1 }]), [5])).toBeUndefined();
    expect(bindConstraint(c("uuid", [{ param: 1 }]), ["not-a-uuid"])).toBeUndefined();
    const many = Array.from({ length: 65 }, (_, i) => i);
    expect(bindConstraint(c("int", [{ param: 1, array: true }]), [many])).toBeUndefined();
  });
});
