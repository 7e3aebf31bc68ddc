import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { expect, test } from "vitest";
import { runTour, STEPS, type TourStep } from "../src/index.js";

const db = useTestDatabase("example_demo");

test("the tour shows, for every app, a miss, a hit and a fresh read after an external write", async () => {
  const lines: string[] = [];
  const tour = await runTour({ databaseUrl: db.url, write: (line) => lines.push(line) });
  const admin = await db.externalWriter();
  try {
    // The multi-instance step needs a Redis; without one (and without PGCW_REQUIRE_REDIS=1) it says so.
    const fleet = tour.results.find((r) => r.id === "fleet");
    const noRedis = fleet?.status === "unavailable" && process.env.PGCW_REQUIRE_REDIS !== "1";
    expect(tour.results.map((r) => [r.id, r.status, r.reason])).toEqual(
      STEPS.map((step) => [
        step.id,
        ...(noRedis && step.id === "fleet" ? ["unavailable", fleet.reason] : ["ok", undefined]),
      ]),
    );
    expect(tour.results.map((r) => r.id)).toEqual(["cached()", "drizzle", "prisma", "kysely", "fleet"]);
    expect(tour.ok).toBe(true);
    // Row-level invalidation: a write to rows the response does not contain left the entry a hit (engine stats).
    expect(tour.results.map((r) => [r.id, r.otherRowRead])).toEqual([
      ["cached()", undefined],
      ["drizzle", "hit"],
      ["prisma", "hit"],
      ["kysely", "hit"],
      ["fleet", undefined],
    ]);
    expect(lines.join("\n")).toContain("entry kept: NOTIFY update on comments named id 4; post_id 3");
    for (const result of tour.results) {
      if (result.id === "fleet") continue; // its hits are Redis hits, checked below
      expect(result.stats?.hits).toBeGreaterThan(0);
      // The first read and the read after the write both loaded from PostgreSQL.
      expect(result.stats?.loads).toBeGreaterThanOrEqual(2);
      expect(result.stats?.entriesInvalidated).toBeGreaterThan(0);
      expect(result.invalidatedAfterMs).toBeGreaterThanOrEqual(0);
    }
    expect(lines.join("\n")).toContain(
      `${noRedis ? 4 : 5} of 5 apps showed a hit and a fresh read after an external write`,
    );
    if (!noRedis) {
      // A fill in one process was a hit in another: fewer queries than reads that missed in memory.
      expect(fleet?.stats?.loads).toBe(2);
      expect(fleet?.stats?.misses).toBe(6);
      expect(lines.join("\n")).toContain("instance 2  Redis");
    }
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [tour.database.name]);
    expect(exists.rowCount).toBe(1);
  } finally {
    await tour.close();
  }
  expect(tour.running.every((r) => !r.watch.isServing())).toBe(true);
  const gone = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [tour.database.name]);
  expect(gone.rowCount).toBe(0);
}, 120_000); // the multi-instance step starts three processes

test("a step that cannot run is reported as not available, never run or faked", async () => {
  const lines: string[] = [];
  let started = false;
  const missing: TourStep = {
    id: "future",
    title: "Future adapter",
    example: "examples/future",
    unavailable: "@pgcachewatch/future is not in this build",
    async start() {
      started = true;
      throw new Error("must not be called");
    },
    path: "/",
    warmupPath: "/",
    show: () => "",
    write: "SELECT 1",
    isFresh: () => true,
  };
  const tour = await runTour({
    databaseUrl: db.url,
    steps: [STEPS[0]!, missing],
    write: (line) => lines.push(line),
  });
  await tour.close();
  expect(started).toBe(false);
  expect(tour.results.map((r) => r.status)).toEqual(["ok", "unavailable"]);
  expect(tour.ok).toBe(true);
  const output = lines.join("\n");
  expect(output).toContain("not yet available: @pgcachewatch/future is not in this build");
  expect(output).toContain("1 of 2 apps showed a hit and a fresh read after an external write");
});
