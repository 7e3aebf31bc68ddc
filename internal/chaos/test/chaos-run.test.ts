import { createTestDatabase, startEmbeddedServer } from "@pgcachewatch/testdb";
import { serverKind, useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { describe, expect, it } from "vitest";
import { chaosPassed, formatSummary, listenerKill, runChaos, serverRestart } from "../src/index.js";

const db = useTestDatabase("chaos_run");

describe("chaos run (CI size)", () => {
  it("no stale read while the listener is killed, its socket goes half-open and hostile payloads arrive", async () => {
    const summary = await runChaos({
      label: "listener kills, half-open socket, hostile payloads",
      url: db.url,
      serverDescription: `the suite's ${serverKind()} server`,
      durationMs: 30_000,
      log: (line) => console.log(line),
    });
    console.log(formatSummary(summary));
    expect(summary.checker.staleReads).toBe(0);
    expect(summary.checker.readsChecked).toBeGreaterThan(1000);
    expect(summary.checker.deliveredByMarker).toBeGreaterThan(50);
    // Every read path took part: the core's load() and cached(), and each adapter on main.
    expect(Object.keys(summary.checker.readsBy).sort()).toEqual([...summary.readPaths].sort());
    expect(summary.readPaths).toEqual(
      expect.arrayContaining(["load()", "cached()", "drizzle $cached()", "kysely cached()"]),
    );
    expect(summary.cachingPaths.sort()).toEqual([...summary.readPaths].sort());
    expect(summary.faultsByKind["listener kill"]).toBeGreaterThanOrEqual(2);
    expect(summary.faultsByKind["half-open socket"]).toBeGreaterThanOrEqual(1);
    expect(summary.faultsByKind["hostile payload burst"]).toBeGreaterThanOrEqual(1);
    expect(summary.faultFailures).toEqual([]);
    expect(summary.engine.reconnects).toBeGreaterThanOrEqual(3);
    expect(summary.listenerConnections).toBe(1);
    expect(summary.settled).toBe(true);
    expect(chaosPassed(summary)).toBe(true);
  }, 120_000);

  it("no stale read across a full server restart (a private embedded server)", async () => {
    const server = await startEmbeddedServer();
    try {
      const database = await createTestDatabase(server.adminUrl, "chaos_restart");
      const summary = await runChaos({
        label: "server restart and listener kills",
        url: database.url,
        server,
        serverDescription: "private embedded server",
        durationMs: 15_000,
        restarts: 1,
        faults: [listenerKill],
        log: (line) => console.log(line),
      });
      console.log(formatSummary(summary));
      expect(summary.faultsByKind[serverRestart.kind]).toBe(1);
      expect(summary.checker.staleReads).toBe(0);
      expect(summary.faultFailures).toEqual([]);
      expect(summary.listenerConnections).toBe(1);
      expect(summary.settled).toBe(true);
      await database.drop();
    } finally {
      await server.stop();
    }
  }, 120_000);
});
