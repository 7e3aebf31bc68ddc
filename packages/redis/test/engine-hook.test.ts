import {
  type CacheWatch,
  type ChangeSource,
  type ChangeSourceHandlers,
  createCacheWatch,
  type SecondTier,
  type SecondTierEntry,
  type SecondTierToken,
} from "@pgcachewatch/core";
import { deferred } from "@pgcachewatch/testdb";
import { afterEach, describe, expect, it } from "vitest";

/** A fake second tier recording what the engine asks of it (pure engine logic, no Redis). */
class FakeTier implements SecondTier {
  entries = new Map<string, SecondTierEntry>();
  gets: string[] = [];
  fills: { key: string; entry: SecondTierEntry; token: SecondTierToken }[] = [];
  invalidated: string[][] = [];
  flushes = 0;
  states: string[] = [];
  clock = 0;
  hold: Promise<void> | undefined;
  reject = false;
  async get(key: string) {
    this.gets.push(key);
    if (this.reject) throw new Error("a broken tier");
    await this.hold;
    return this.entries.get(key);
  }
  async beginLoad() {
    return { clock: this.clock };
  }
  fill(key: string, entry: SecondTierEntry, _ttl: number, token: SecondTierToken) {
    this.fills.push({ key, entry, token });
  }
  invalidate(tags: readonly string[]) {
    this.invalidated.push([...tags]);
  }
  invalidateAll() {
    this.flushes++;
  }
  sourceState(state: "ready" | "lost" | "stopped") {
    this.states.push(state);
  }
}

let watch: CacheWatch;
let tier: FakeTier;
async function start() {
  tier = new FakeTier();
  watch = createCacheWatch({ source: "none", secondTier: tier });
  await watch.start();
}
afterEach(async () => {
  await watch?.stop();
});

const read = (loader: () => Promise<unknown>) => watch.load({ key: "k", tables: ["items"] }, loader);

describe("the engine's second-tier hook", () => {
  it("a first-tier miss asks the tier before loading; a hit fills the first tier under its tags", async () => {
    await start();
    tier.entries.set("k", { value: { from: "tier" }, tags: ["t\u0000public\u0000items"] });
    let loads = 0;
    const loader = async () => {
      loads++;
      return { from: "db" };
    };
    expect(await read(loader)).toEqual({ from: "tier" });
    expect(await read(loader)).toEqual({ from: "tier" });
    expect(loads).toBe(0);
    expect(tier.gets).toEqual(["k"]); // the second read was a first-tier hit
    expect(watch.stats().loads).toBe(0);
    // The entry is indexed under the tier's tags: invalidating the table drops it.
    watch.invalidate({ tables: ["items"] });
    tier.entries.clear();
    expect(await read(loader)).toEqual({ from: "db" });
    expect(loads).toBe(1);
  });

  it("a tier hit whose tags were invalidated while the tier answered does not fill the first tier", async () => {
    await start();
    const gate = deferred();
    tier.hold = gate.promise;
    const tags = watch.tagsFor(["items"]);
    tier.entries.set("k", { value: "old", tags });
    const first = read(async () => "db");
    await new Promise((r) => setTimeout(r, 10));
    watch.invalidate({ tables: ["items"] }); // after the tick was taken, before the tier answered
    gate.resolve();
    expect(await first).toBe("old"); // a read that began before the change may see the old value
    tier.hold = undefined;
    tier.entries.clear();
    expect(await read(async () => "db")).toBe("db"); // not served from the first tier
  });

  it("a load fills the tier with the token taken before it ran, unless the fill guard refused it", async () => {
    await start();
    tier.clock = 7;
    await read(async () => "v1");
    expect(tier.fills).toHaveLength(1);
    expect(tier.fills[0]?.token).toEqual({ clock: 7 });
    expect(tier.fills[0]?.entry).toEqual({ value: "v1", tags: watch.tagsFor(["items"]) });
    watch.invalidate({ tables: ["items"] });
    const gate = deferred();
    const held = watch.load({ key: "k2", tables: ["items"] }, async () => {
      await gate.promise;
      return "v2";
    });
    await new Promise((r) => setTimeout(r, 10));
    watch.invalidate({ tables: ["items"] });
    gate.resolve();
    await held;
    await new Promise((r) => setTimeout(r, 10));
    expect(tier.fills).toHaveLength(1); // refused locally, so not offered to the tier either
  });

  it("every invalidation and the source's state reach the tier", async () => {
    await start();
    // Without a change source the instance never claims to cover the shared tier.
    expect(tier.states).toEqual([]);
    watch.invalidate({ tables: ["items"], tags: ["catalog"] });
    watch.beginMutation(["orders"]).complete();
    watch.invalidateAll();
    expect(tier.invalidated).toEqual([watch.tagsFor(["items"], ["catalog"]), watch.tagsFor(["orders"])]);
    expect(tier.flushes).toBe(1);
    await watch.stop();
    expect(tier.states).toEqual(["stopped"]);
  });

  it("a tier that rejects is a miss, never a failed read", async () => {
    await start();
    tier.reject = true;
    expect(await read(async () => "db")).toBe("db");
  });

  it("while its own source is down the engine reads the tier (which serves what others cover), never its first tier", async () => {
    let handlers: ChangeSourceHandlers | undefined;
    const source: ChangeSource = {
      kind: "fake",
      async start(h) {
        handlers = h;
        h.onReady();
      },
      async stop() {},
    };
    tier = new FakeTier();
    watch = createCacheWatch({ source, secondTier: tier });
    await watch.start();
    expect(tier.states).toEqual(["ready"]);
    handlers?.onLost(new Error("listener gone"));
    expect(tier.states).toEqual(["ready", "lost"]);
    tier.entries.set("k", { value: "shared", tags: watch.tagsFor(["items"]) });
    let loads = 0;
    expect(await read(async () => `db${++loads}`)).toBe("shared");
    tier.entries.clear();
    expect(await read(async () => `db${++loads}`)).toBe("db1");
    expect(await read(async () => `db${++loads}`)).toBe("db2"); // nothing stored while lost
    expect(tier.fills).toHaveLength(0);
    // In a transaction: neither tier.
    tier.entries.set("k", { value: "shared", tags: [] });
    expect(await watch.load({ key: "k", tables: ["items"], inTransaction: true }, async () => "tx")).toBe(
      "tx",
    );
  });
});
