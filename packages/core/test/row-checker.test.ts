import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type ChangeSource, type ChangeSourceHandlers, createCacheWatch } from "../src/index.js";
import { createWalSource } from "../src/sources/wal/index.js";
import { installTriggers } from "../src/triggers/index.js";
import {
  CHECKER_SCHEMA,
  CHECKER_TABLES,
  runRowChecker,
  seedCheckerData,
  survival,
} from "./support/row-checker.js";
import { announceWalAvailability, checkWalAvailability, type WalAvailability } from "./wal-support.js";

// CI size: ~30 s across both sources. PGCW_CHECKER_WRITES raises the number of writes.
const WRITES = Number(process.env.PGCW_CHECKER_WRITES ?? 60);
const SEED = Number(process.env.PGCW_CHECKER_SEED ?? 20261201);

const db = useTestDatabase("row_checker");
let wal: WalAvailability = { ok: false, reason: "not checked" };
let pool: pg.Pool;

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "row-checker.test.ts");
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
});

afterAll(async () => {
  await pool?.end();
});

/** A fresh copy of the schema and data for one run, so runs do not depend on each other. */
async function resetData(writer: pg.Client): Promise<void> {
  await writer.query("DROP TABLE IF EXISTS post_tags, posts, authors, events, sentinel CASCADE");
  await writer.query(CHECKER_SCHEMA);
  await seedCheckerData(writer);
}

/**
 * A deliberately broken matcher: it pretends an event that carries no values for a column
 * changed no row with any value of it (ignoring that the old values were not sent).
 */
class IgnoreUnknownColumns implements ChangeSource {
  readonly kind = "broken";
  constructor(private readonly inner: ChangeSource) {}
  start(handlers: ChangeSourceHandlers): Promise<void> {
    return this.inner.start({
      ...handlers,
      onChange: (event) => {
        if (event.columns === undefined) return handlers.onChange(event);
        const columns: Record<string, readonly string[]> = {};
        for (const column of ["id", "author_id", "status", "title", "note", "post_id", "tag", "name"]) {
          columns[column] = event.columns[column] ?? [];
        }
        handlers.onChange({ ...event, columns });
      },
    });
  }
  stop(): Promise<void> {
    return this.inner.stop();
  }
}

function report(label: string, result: Awaited<ReturnType<typeof runRowChecker>>): void {
  const kept = survival(result);
  console.log(
    `row checker (${label}): ${result.writes} writes, ${result.readsChecked} reads checked, ${result.stale} stale, ` +
      `entries before writes ${kept.before}, survived ${kept.after} (${(kept.ratio * 100).toFixed(1)}%), hits ${result.hits}` +
      (result.staleExamples.length > 0 ? `\n  e.g. ${result.staleExamples.join("\n  e.g. ")}` : ""),
  );
}

describe("differential checker: cached reads equal fresh ones after random external writes", () => {
  it("WAL source (row-level events)", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const writer = await db.externalWriter();
    await resetData(writer);
    const source = createWalSource({
      connectionString: db.url,
      tables: CHECKER_TABLES,
      publication: "pgcw_checker_pub",
      heartbeatInterval: 1000,
    });
    const watch = createCacheWatch({ connectionString: db.url, source });
    onTestFinished(() => watch.stop());
    await watch.start();
    const result = await runRowChecker({
      watch,
      pool,
      writer,
      url: db.url,
      seed: SEED,
      writes: WRITES,
      readsPerRound: 12,
    });
    report("WAL", result);
    expect(result.staleExamples).toEqual([]);
    expect(result.stale).toBe(0);
    // Row granularity pays: a write leaves most of what other rows' reads cached.
    expect(survival(result).ratio).toBeGreaterThan(0.3);
  });

  it("NOTIFY source (statement triggers)", async () => {
    const writer = await db.externalWriter();
    await resetData(writer);
    await installTriggers(writer, { tables: CHECKER_TABLES.filter((t) => !t.startsWith("events_")) });
    const watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 1000 });
    onTestFinished(() => watch.stop());
    await watch.start();
    const result = await runRowChecker({
      watch,
      pool,
      writer,
      url: db.url,
      seed: SEED + 1,
      writes: Math.ceil(WRITES / 2),
      readsPerRound: 12,
    });
    report("NOTIFY", result);
    expect(result.stale).toBe(0);
  });

  it("can fail: with a broken matcher it reports stale reads", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const writer = await db.externalWriter();
    await resetData(writer);
    const source = new IgnoreUnknownColumns(
      createWalSource({
        connectionString: db.url,
        tables: CHECKER_TABLES,
        publication: "pgcw_broken_pub",
        heartbeatInterval: 1000,
      }),
    );
    const watch = createCacheWatch({ connectionString: db.url, source });
    onTestFinished(() => watch.stop());
    await watch.start();
    const result = await runRowChecker({
      watch,
      pool,
      writer,
      url: db.url,
      seed: SEED,
      writes: WRITES,
      readsPerRound: 12,
    });
    report("broken matcher", result);
    expect(result.stale).toBeGreaterThan(0);
  });
});
