import { type CacheWatch, cached } from "@pgcachewatch/core";
import type pg from "pg";
import { sleep } from "./sleep.js";
import type { RowVersion, StalenessChecker } from "./staleness-checker.js";
import { qualified, type WorkloadTable } from "./workload-schema.js";

/**
 * One way of reading the workload through a cache: the engine's `load()`, `cached()`, or an ORM
 * adapter. Both reads return every row they saw with its version.
 */
export interface ReadPath {
  readonly name: string;
  readRow(id: number): Promise<RowVersion[]>;
  readAll(): Promise<RowVersion[]>;
}

function rowsOf(result: Pick<pg.QueryResult, "rows">): RowVersion[] {
  return result.rows.map((row: { id: number; version: number }) => ({ id: row.id, version: row.version }));
}

/** Read paths of the core package: `watch.load()` as an adapter uses it, `cached()`, and raw SQL through `watch.query()`. */
export function coreReadPaths(watch: CacheWatch, pool: pg.Pool, target: WorkloadTable): ReadPath[] {
  const table = qualified(target);
  const tables = [target];
  const rowSql = `SELECT id, version::int AS version FROM ${table} WHERE id = $1`;
  const allSql = `SELECT id, version::int AS version FROM ${table} ORDER BY id`;
  const cachedRow = cached(async (id: number) => rowsOf(await pool.query(rowSql, [id])), {
    watch,
    tables,
    name: "chaos-row",
  });
  const cachedAll = cached(async () => rowsOf(await pool.query(allSql)), {
    watch,
    tables,
    name: "chaos-all",
  });
  return [
    {
      name: "load()",
      readRow: (id) =>
        watch.load({ key: `chaos:row:${id}`, tables }, async () => rowsOf(await pool.query(rowSql, [id]))),
      readAll: () => watch.load({ key: "chaos:all", tables }, async () => rowsOf(await pool.query(allSql))),
    },
    { name: "cached()", readRow: (id) => cachedRow(id), readAll: () => cachedAll() },
    {
      // Raw SQL with derived dependencies: a row read depends on that row only (row-level invalidation).
      name: "watch.query()",
      readRow: async (id) => rowsOf(await watch.query(pool, rowSql, [id])),
      readAll: async () => rowsOf(await watch.query(pool, allSql)),
    },
  ];
}

export interface ReadersOptions {
  paths: readonly ReadPath[];
  readers: number;
  rowCount: number;
  /** Pause between one reader's reads: uniform in [0, maxPauseMs]. At least a macrotask. */
  maxPauseMs: number;
  checker: StalenessChecker;
}

export interface RunningReaders {
  stop(): Promise<void>;
}

/** Concurrent readers: each read goes through a random path, one row (mostly) or the whole table, and is checked. */
export function startReaders(options: ReadersOptions): RunningReaders {
  let stopped = false;
  const loops = Array.from({ length: options.readers }, () => readerLoop(options, () => stopped));
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** One checked read. */
export async function checkedRead(
  checker: StalenessChecker,
  path: ReadPath,
  what: { id: number } | "all",
): Promise<void> {
  const token = checker.beginRead();
  let rows: RowVersion[];
  try {
    rows = what === "all" ? await path.readAll() : await path.readRow(what.id);
  } catch {
    checker.readFailed();
    return;
  }
  checker.endRead(token, path.name, rows);
}

async function readerLoop(options: ReadersOptions, stopped: () => boolean): Promise<void> {
  const { paths, rowCount, maxPauseMs, checker } = options;
  while (!stopped()) {
    const path = paths[Math.floor(Math.random() * paths.length)];
    if (path === undefined) return;
    const what = Math.random() < 0.1 ? "all" : { id: 1 + Math.floor(Math.random() * rowCount) };
    await checkedRead(checker, path, what);
    await sleep(Math.random() * maxPauseMs);
  }
}
