import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { expect, test } from "vitest";
import { runTour } from "../src/index.js";

const db = useTestDatabase("example_demo");

test("the tour shows, for every available app, a miss, a hit and a fresh read after an external write", async () => {
  const lines: string[] = [];
  const tour = await runTour({ databaseUrl: db.url, write: (line) => lines.push(line) });
  const admin = await db.externalWriter();
  try {
    expect(tour.results.filter((r) => r.status === "failed")).toEqual([]);
    expect(tour.ok).toBe(true);
    const ran = tour.results.filter((r) => r.status === "ok");
    expect(ran.map((r) => r.id)).toContain("cached()");
    for (const result of ran) {
      expect(result.stats?.hits).toBeGreaterThan(0);
      // The first read and the read after the write both loaded from PostgreSQL.
      expect(result.stats?.loads).toBeGreaterThanOrEqual(2);
      expect(result.stats?.entriesInvalidated).toBeGreaterThan(0);
      expect(result.invalidatedAfterMs).toBeGreaterThanOrEqual(0);
    }
    // Steps that cannot run say so instead of pretending.
    for (const result of tour.results.filter((r) => r.status === "unavailable")) {
      expect(lines.join("\n")).toContain(`not yet available: ${result.reason}`);
    }
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [tour.database.name]);
    expect(exists.rowCount).toBe(1);
  } finally {
    await tour.close();
  }
  expect(tour.running.every((r) => !r.watch.isServing())).toBe(true);
  const gone = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [tour.database.name]);
  expect(gone.rowCount).toBe(0);
});
