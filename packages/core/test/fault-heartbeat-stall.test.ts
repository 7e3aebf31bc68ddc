import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { createCacheWatch } from "../src/index.js";

const db = useTestDatabase("fault_stall");

const INTERVAL = 200;
const STALLS = 6;

/** Block the event loop, as a long synchronous computation would. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // stall
  }
}

describe("event-loop stall during a heartbeat", () => {
  it("a stall longer than heartbeatInterval while the heartbeat is in flight is not a lost listener", async () => {
    const watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: INTERVAL });
    onTestFinished(() => watch.stop());
    await watch.start();

    // Right after a heartbeat query has been written, stall for three intervals: its answer
    // arrives in the socket meanwhile, and when the loop resumes the heartbeat's timer is overdue.
    let stalls = 0;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    const original = pg.Client.prototype.query;
    const spy = vi.spyOn(pg.Client.prototype, "query").mockImplementation(function (
      this: pg.Client,
      ...args: unknown[]
    ) {
      const result = (original as (...a: unknown[]) => unknown).apply(this, args);
      const text = typeof args[0] === "string" ? args[0] : "";
      if (text.includes("pg_notification_queue_usage") && stalls < STALLS) {
        stalls++;
        setImmediate(() => {
          busyWait(INTERVAL * 3);
          if (stalls === STALLS) setTimeout(resolveDone, INTERVAL * 3);
        });
      }
      return result;
    } as typeof original);
    onTestFinished(() => spy.mockRestore());
    await done;
    expect(stalls).toBe(STALLS);
    expect(watch.stats().losses).toBe(0);
    expect(watch.isServing()).toBe(true);
  });
});
