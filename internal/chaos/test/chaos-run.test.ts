import { createTestDatabase, type EmbeddedServer, startEmbeddedServer } from "@pgcachewatch/testdb";
import { serverKind, useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChaosSummary,
  chaosPassed,
  formatSummary,
  listenerKill,
  runChaos,
  serverRestart,
  slotDrop,
} from "../src/index.js";

const db = useTestDatabase("chaos_run");
const log = (line: string) => console.log(line);

/** What every run must show, whatever its faults. */
function expectClean(summary: ChaosSummary): void {
  console.log(formatSummary(summary));
  expect(summary.checker.violations).toEqual([]);
  expect(summary.checker.staleReads).toBe(0);
  expect(summary.checker.readsChecked).toBeGreaterThan(1000);
  expect(summary.checker.deliveredByMarker).toBeGreaterThan(50);
  // Every read path took part and served hits: the core's load() and cached(), and each adapter.
  expect(summary.readPaths).toEqual(
    expect.arrayContaining([
      "load()",
      "cached()",
      "watch.query()",
      "drizzle $cached()",
      "kysely cached()",
      "prisma findMany",
    ]),
  );
  expect(Object.keys(summary.checker.readsBy).sort()).toEqual([...summary.readPaths].sort());
  expect([...summary.cachingPaths].sort()).toEqual([...summary.readPaths].sort());
  expect(summary.faultFailures).toEqual([]);
  expect(summary.listenerConnections).toBe(1);
  expect(summary.settled).toBe(true);
  expect(chaosPassed(summary)).toBe(true);
}

describe("chaos run (CI size)", () => {
  it("NOTIFY source on the suite's server: listener kills, a half-open socket, hostile payloads", async () => {
    const summary = await runChaos({
      label: "NOTIFY: listener kills, half-open socket, hostile payloads",
      url: db.url,
      serverDescription: `the suite's ${serverKind()} server`,
      durationMs: 25_000,
      log,
    });
    expectClean(summary);
    expect(summary.faultsByKind[listenerKill.kind]).toBeGreaterThanOrEqual(2);
    expect(summary.faultsByKind["half-open socket"]).toBeGreaterThanOrEqual(1);
    expect(summary.faultsByKind["hostile payload burst"]).toBeGreaterThanOrEqual(1);
    expect(summary.engine.malformedEvents).toBeGreaterThan(0);
    expect(summary.engine.reconnects).toBeGreaterThanOrEqual(3);
  }, 120_000);

  describe("on a private embedded server (the only kind restarted)", () => {
    let server: EmbeddedServer;
    beforeAll(async () => {
      server = await startEmbeddedServer();
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    });

    it("NOTIFY source: a full server restart and listener kills", async () => {
      const database = await createTestDatabase(server.adminUrl, "chaos_restart");
      const summary = await runChaos({
        label: "NOTIFY: server restart and listener kills",
        url: database.url,
        server,
        serverDescription: "private embedded server",
        durationMs: 12_000,
        restarts: 1,
        faults: [listenerKill],
        log,
      });
      expectClean(summary);
      expect(summary.faultsByKind[serverRestart.kind]).toBe(1);
      await database.drop();
    }, 120_000);

    it("WAL source: walsender kills, a dropped slot, a half-open socket and a server restart", async () => {
      const database = await createTestDatabase(server.adminUrl, "chaos_wal");
      const summary = await runChaos({
        label: "WAL: walsender kills, dropped slot, half-open socket, restart",
        source: "wal",
        url: database.url,
        server,
        serverDescription: "private embedded server",
        durationMs: 20_000,
        faultEvery: 2000,
        restarts: 1,
        log,
      });
      expectClean(summary);
      expect(summary.faultsByKind[listenerKill.kind]).toBeGreaterThanOrEqual(2);
      expect(summary.faultsByKind[slotDrop.kind]).toBeGreaterThanOrEqual(1);
      expect(summary.faultsByKind["half-open socket"]).toBeGreaterThanOrEqual(1);
      expect(summary.faultsByKind[serverRestart.kind]).toBe(1);
      await database.drop();
    }, 120_000);
  });
});
