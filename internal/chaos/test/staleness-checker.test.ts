import type { ChangeSource } from "@pgcachewatch/core";
import { MemoryStore } from "@pgcachewatch/core/adapter";
import { serverKind, useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { describe, expect, it } from "vitest";
import { chaosPassed, formatSummary, runChaos, StalenessChecker } from "../src/index.js";

function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

describe("staleness checker: the rules", () => {
  it("rule A: a read that began after a write's marker was delivered must reflect it", () => {
    const clock = fakeClock();
    const checker = new StalenessChecker({ rowCount: 2, staleAfterMs: 1000, now: clock.now });
    checker.committed(1, 1);
    const before = checker.beginRead();
    clock.advance(1);
    checker.markerDelivered("1:1");
    const after = checker.beginRead();
    clock.advance(1);
    // Began before delivery: may still see the old version.
    expect(checker.endRead(before, "p", [{ id: 1, version: 0 }])).toEqual([]);
    // Began after delivery: must not.
    expect(checker.endRead(after, "p", [{ id: 1, version: 0 }])).toMatchObject([
      { rule: "after-delivery", id: 1, sawVersion: 0, deliveredVersion: 1 },
    ]);
    // Other rows are not affected by row 1's delivery.
    expect(checker.endRead(after, "p", [{ id: 2, version: 0 }])).toEqual([]);
    expect(checker.report()).toMatchObject({ readsChecked: 3, staleReads: 1, staleAfterDelivery: 1 });
  });

  it("rule A: a marker that arrives before the COMMIT returned still counts from its arrival", () => {
    const clock = fakeClock();
    const checker = new StalenessChecker({ rowCount: 1, staleAfterMs: 1000, now: clock.now });
    checker.markerDelivered("1:1");
    const read = checker.beginRead();
    clock.advance(5);
    checker.committed(1, 1);
    expect(checker.endRead(read, "p", [{ id: 1, version: 0 }])).toHaveLength(1);
    expect(checker.report().deliveryLatencyMs).toEqual({ p50: 0, p99: 0, max: 0 });
  });

  it("rule A: a flush of everything delivers every write whose COMMIT had returned, not later ones", () => {
    const clock = fakeClock();
    const checker = new StalenessChecker({ rowCount: 2, staleAfterMs: 1000, now: clock.now });
    checker.committed(1, 3);
    checker.committed(2, 1);
    checker.flushed();
    checker.committed(2, 2);
    const read = checker.beginRead();
    expect(checker.endRead(read, "p", [{ id: 1, version: 3 }])).toEqual([]);
    expect(checker.endRead(read, "p", [{ id: 2, version: 1 }])).toEqual([]);
    expect(checker.endRead(read, "p", [{ id: 1, version: 2 }])).toHaveLength(1);
  });

  it("rule B: a newer version committed longer ago than the bound is stale even if never delivered", () => {
    const clock = fakeClock();
    const checker = new StalenessChecker({ rowCount: 1, staleAfterMs: 1000, now: clock.now });
    checker.committed(1, 1);
    clock.advance(600);
    checker.committed(1, 2);
    clock.advance(600);
    const read = checker.beginRead();
    // v1 is 600 ms behind v2's commit: within the bound.
    expect(checker.endRead(read, "p", [{ id: 1, version: 1 }])).toEqual([]);
    // v0 is 1200 ms behind v1's commit: beyond it.
    expect(checker.endRead(read, "p", [{ id: 1, version: 0 }])).toMatchObject([
      { rule: "beyond-bound", ageMs: 1200 },
    ]);
    expect(checker.report()).toMatchObject({ staleBeyondBound: 1, worstStalenessMs: 1200 });
  });

  it("rule B: a write that committed after the read began does not make it stale", () => {
    const clock = fakeClock();
    const checker = new StalenessChecker({ rowCount: 1, staleAfterMs: 10, now: clock.now });
    const read = checker.beginRead();
    clock.advance(100);
    checker.committed(1, 1);
    clock.advance(100);
    expect(checker.endRead(read, "p", [{ id: 1, version: 0 }])).toEqual([]);
  });
});

const db = useTestDatabase("chaos_checker");

describe("staleness checker: it fails on broken engines (real PostgreSQL, real writers)", () => {
  it("flags a source that says it is ready but never delivers (rule B)", async () => {
    const deaf: ChangeSource = {
      kind: "deaf",
      async start(handlers) {
        handlers.onReady();
      },
      async stop() {},
    };
    const summary = await runChaos({
      label: "broken: a source that never delivers",
      url: db.url,
      serverDescription: `the suite's ${serverKind()} server`,
      durationMs: 20_000,
      staleAfterMs: 1000,
      faults: [],
      proxy: false,
      engine: { source: deaf },
      stopWhen: (report) => report.staleBeyondBound > 0,
    });
    console.log(formatSummary(summary));
    expect(summary.checker.staleBeyondBound).toBeGreaterThan(0);
    expect(summary.checker.deliveredByMarker).toBe(0);
    expect(chaosPassed(summary)).toBe(false);
  }, 60_000);

  it("flags an engine whose store ignores invalidations (rule A)", async () => {
    class ForgetfulStore extends MemoryStore {
      override deleteTag(): number {
        return 0;
      }
    }
    const summary = await runChaos({
      label: "broken: a store that ignores invalidations",
      url: db.url,
      serverDescription: `the suite's ${serverKind()} server`,
      durationMs: 20_000,
      faults: [],
      proxy: false,
      engine: { store: new ForgetfulStore({ maxEntries: 10_000, maxBytes: 1 << 24 }) },
      stopWhen: (report) => report.staleAfterDelivery > 0,
    });
    console.log(formatSummary(summary));
    expect(summary.checker.staleAfterDelivery).toBeGreaterThan(0);
    expect(summary.checker.violations[0]).toMatchObject({ rule: "after-delivery" });
    expect(chaosPassed(summary)).toBe(false);
  }, 60_000);
});
