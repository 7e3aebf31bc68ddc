import { type CacheWatchOptions, type CacheWatchStats, createCacheWatch } from "@pgcachewatch/core";
import { type EmbeddedServer, startTcpProxy, type TcpProxy } from "@pgcachewatch/testdb";
import pg from "pg";
import { ensurePrismaClient } from "../scripts/generate-prisma-client.mjs";
import {
  eventWithin,
  type Fault,
  type FaultContext,
  type FaultOutcome,
  listenerPids,
  withAdmin,
} from "./faults/fault.js";
import { halfOpen } from "./faults/half-open.js";
import { hostileBurst } from "./faults/hostile-burst.js";
import { listenerKill } from "./faults/listener-kill.js";
import { serverRestart } from "./faults/server-restart.js";
import { CHAOS_SLOT, slotDrop } from "./faults/slot-drop.js";
import { drizzleReadPaths } from "./read-paths/drizzle.js";
import { kyselyReadPaths } from "./read-paths/kysely.js";
import { checkedRead, coreReadPaths, type ReadPath, startReaders } from "./readers.js";
import { sleep, waitUntil } from "./sleep.js";
import { type CheckerReport, MARKER_SCHEMA, MARKER_TABLE, StalenessChecker } from "./staleness-checker.js";
import {
  createWorkloadSchema,
  DEFAULT_WORKLOAD_TABLE,
  qualified,
  type WorkloadTable,
} from "./workload-schema.js";
import { startWriters, writeOnce } from "./writers.js";

export interface ChaosOptions {
  /** The engine's change source: "notify" (default; triggers and LISTEN) or "wal" (logical replication, permanent slot). */
  source?: "notify" | "wal";
  /** A name for the summary. */
  label?: string;
  /** The workload database (readers, writers and faults connect here directly). */
  url: string;
  /** A server this process started: only then is a restart injected. */
  server?: EmbeddedServer;
  /** A description of the server for the summary. */
  serverDescription?: string;
  durationMs: number;
  readers?: number;
  writers?: number;
  rows?: number;
  readPauseMs?: number;
  writePauseMs?: number;
  heartbeatInterval?: number;
  /** Pause between faults. */
  faultEvery?: number;
  /** Server restarts spread over the run (needs `server`). Default 1 when a server is given. */
  restarts?: number;
  /** The rotation of faults; default listener kill, hostile burst, half-open socket. Empty = no faults. */
  faults?: readonly Fault[];
  /** Run the listener through a freezable proxy (needed for the half-open fault). Default true. */
  proxy?: boolean;
  /** Rule B's bound; default two heartbeats plus 2 s. */
  staleAfterMs?: number;
  /** Engine options on top of the run's own (e.g. a broken source or store, to prove the checker can fail). */
  engine?: Partial<CacheWatchOptions>;
  /** Read through the ORM adapters too (default true); false = the core's load() and cached() only. */
  adapters?: boolean;
  /** Extra read paths built on the run's engine and database. */
  extraReadPaths?: (context: {
    watch: ReturnType<typeof createCacheWatch>;
    url: string;
  }) => Promise<ReadPath[]>;
  /** End the run early once this is true (checked every 100 ms). */
  stopWhen?: (report: CheckerReport) => boolean;
  target?: WorkloadTable;
  log?: (line: string) => void;
}

export interface ChaosSummary {
  label: string;
  server: string;
  durationMs: number;
  checker: CheckerReport;
  faultsInjected: number;
  faultsByKind: Record<string, number>;
  faultFailures: FaultOutcome[];
  engine: CacheWatchStats;
  /** Listener connections on the server at the end of the run (must be 1). */
  listenerConnections: number;
  /** The final check (one write per row, delivered, then read through every path) passed. */
  settled: boolean;
  readPaths: string[];
  /** Read paths that served a hit in the final check (every path should). */
  cachingPaths: string[];
}

export const DEFAULT_FAULTS: readonly Fault[] = [listenerKill, hostileBurst, listenerKill, halfOpen];
export const DEFAULT_WAL_FAULTS: readonly Fault[] = [listenerKill, slotDrop, listenerKill, halfOpen];

/** Run the staleness checker against a live engine while faults are injected; stops by itself. */
export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const log = options.log ?? (() => {});
  const target = options.target ?? DEFAULT_WORKLOAD_TABLE;
  const rows = options.rows ?? 8;
  const channel = options.engine?.channel ?? "pgcachewatch";
  const heartbeatInterval = options.heartbeatInterval ?? 500;
  const wal = options.source === "wal";
  // How long the source may take to notice a dead connection, plus slack for a loaded machine.
  const detection = wal ? 4 * heartbeatInterval : 2 * heartbeatInterval;
  const staleAfterMs = options.staleAfterMs ?? detection + 2000;
  const useProxy = options.proxy ?? true;
  const faults =
    options.faults ?? (wal ? DEFAULT_WAL_FAULTS : DEFAULT_FAULTS).filter((f) => useProxy || f !== halfOpen);
  const restarts = options.server ? (options.restarts ?? 1) : 0;

  await withAdmin(options.url, (client) => createWorkloadSchema(client, target, rows, channel));
  const checker = new StalenessChecker({ rowCount: rows, staleAfterMs, markerSightings: wal ? 2 : 1 });
  const closers: Array<() => Promise<unknown>> = [];
  try {
    const direct = new URL(options.url);
    let proxy: TcpProxy | undefined;
    if (useProxy) {
      const opened = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
      proxy = opened;
      closers.unshift(() => opened.close());
    }
    const watch = createCacheWatch({
      connectionString: proxy ? proxy.url(options.url) : options.url,
      heartbeatInterval,
      reconnectDelay: { initial: 50, max: 1000 },
      loadTimeout: 10_000,
      ...(wal
        ? {
            source: "wal" as const,
            wal: {
              tables: [target, { schema: MARKER_SCHEMA, table: MARKER_TABLE }],
              permanentSlot: CHAOS_SLOT,
              heartbeatInterval,
              heartbeatTimeout: 3 * heartbeatInterval,
              reconnectDelay: { initial: 50, max: 1000 },
            },
          }
        : {}),
      ...options.engine,
    });
    closers.unshift(() => watch.stop());
    checker.attach(watch);
    const started = eventWithin(watch, "ready", 30_000);
    void watch.start().catch(() => {});
    if (!watch.isServing() && !(await started.promise))
      throw new Error("the engine did not start within 30 s");

    const pool = new pg.Pool({ connectionString: options.url, max: 4, connectionTimeoutMillis: 5000 });
    pool.on("error", () => {});
    // pg-pool drops its own error listener while a client is checked out. Kysely holds checked-out
    // clients between statements; a server restart then sends them a FATAL with no query running,
    // which pg emits as an 'error' event, and with no listener that ends the process. Every app
    // that uses Kysely (or pool.connect()) over pg needs this line.
    pool.on("connect", (client) => client.on("error", () => {}));
    closers.unshift(() => pool.end());
    const prismaPaths: ReadPath[] = [];
    if (options.adapters !== false && target === DEFAULT_WORKLOAD_TABLE) {
      // The Prisma client is generated for the default table; generate it first if it is missing.
      ensurePrismaClient();
      const { prismaReadPaths } = await import("./read-paths/prisma.js");
      const opened = prismaReadPaths(watch, options.url);
      closers.unshift(opened.close);
      prismaPaths.push(...opened.paths);
    }
    const paths = [
      ...coreReadPaths(watch, pool, target),
      ...prismaPaths,
      ...(options.adapters === false
        ? []
        : [...drizzleReadPaths(watch, pool, target), ...kyselyReadPaths(watch, pool, target)]),
      ...((await options.extraReadPaths?.({ watch, url: options.url })) ?? []),
    ];
    checker.baseline(
      (
        await pool.query<{ id: number; version: number }>(
          `SELECT id, version::int AS version FROM ${qualified(target)}`,
        )
      ).rows,
    );

    const begin = performance.now();
    const writers = startWriters({
      url: options.url,
      target,
      channel,
      rowCount: rows,
      writers: options.writers ?? 2,
      maxPauseMs: options.writePauseMs ?? 300,
      checker,
    });
    const readers = startReaders({
      paths,
      readers: options.readers ?? 8,
      rowCount: rows,
      maxPauseMs: options.readPauseMs ?? 2,
      checker,
    });

    const context: FaultContext = {
      watch,
      url: options.url,
      channel,
      heartbeatInterval,
      ...(proxy ? { proxy } : {}),
      ...(options.server ? { server: options.server } : {}),
    };
    const outcomes: FaultOutcome[] = [];
    const deadline = begin + options.durationMs;
    let stopEarly = false;
    const watcher = (async () => {
      while (!stopEarly && performance.now() < deadline) {
        if (options.stopWhen?.(checker.report())) stopEarly = true;
        else await sleep(100);
      }
    })();
    const faultLoop = (async () => {
      const restartAt = Array.from(
        { length: restarts },
        (_, i) => begin + (options.durationMs * (i + 1)) / (restarts + 1),
      );
      let next = 0;
      const faultEvery = options.faultEvery ?? 2500;
      // Restarts still due run even if the other faults ran late: a run promises them.
      while (!stopEarly && (performance.now() + faultEvery < deadline || restartAt.length > 0)) {
        const pauseUntil = performance.now() + faultEvery;
        while (!stopEarly && performance.now() < pauseUntil) await sleep(100);
        if (stopEarly) break;
        const restartDue =
          restartAt.length > 0 &&
          ((restartAt[0] ?? Infinity) <= performance.now() || performance.now() + faultEvery >= deadline);
        const fault = restartDue ? serverRestart : faults[next++ % Math.max(1, faults.length)];
        if (restartDue) restartAt.shift();
        if (fault === undefined) continue;
        const outcome = await fault
          .inject(context)
          .catch((error: unknown): FaultOutcome => ({ kind: fault.kind, ok: false, detail: String(error) }));
        outcomes.push(outcome);
        log(`fault ${outcome.kind}: ${outcome.ok ? "ok" : `FAILED (${outcome.detail})`}`);
      }
    })();
    await Promise.all([watcher, faultLoop]);
    proxy?.thaw();
    await Promise.all([readers.stop(), writers.stop()]);

    const cachingPaths: string[] = [];
    const settled = stopEarly
      ? false
      : await settle(options.url, target, channel, rows, watch, checker, paths, cachingPaths);
    const listenerConnections = await withAdmin(options.url, async (c) => (await listenerPids(c)).length);
    const durationMs = performance.now() - begin;
    const faultsByKind: Record<string, number> = {};
    for (const o of outcomes) faultsByKind[o.kind] = (faultsByKind[o.kind] ?? 0) + 1;
    return {
      label: options.label ?? "chaos",
      server: options.serverDescription ?? (options.server ? "embedded (restartable)" : "external"),
      durationMs,
      checker: checker.report(),
      faultsInjected: outcomes.length,
      faultsByKind,
      faultFailures: outcomes.filter((o) => !o.ok),
      engine: watch.stats(),
      listenerConnections,
      settled,
      readPaths: paths.map((p) => p.name),
      cachingPaths,
    };
  } finally {
    for (const close of closers) await close().catch(() => {});
    // A permanent slot left behind would hold WAL on the server forever.
    if (wal) {
      await withAdmin(options.url, (client) =>
        client.query(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
          [CHAOS_SLOT],
        ),
      ).catch(() => {});
    }
  }
}

/**
 * After the faults: the engine must be serving, every row's next write must be delivered, and a
 * read through every path must then see it.
 */
async function settle(
  url: string,
  target: WorkloadTable,
  channel: string,
  rows: number,
  watch: ReturnType<typeof createCacheWatch>,
  checker: StalenessChecker,
  paths: readonly ReadPath[],
  caching: string[],
): Promise<boolean> {
  if (!(await waitUntil(() => watch.isServing(), 30_000))) return false;
  return withAdmin(url, async (client) => {
    for (let id = 1; id <= rows; id++) {
      for (const path of paths) await checkedRead(checker, path, { id });
      const version = await writeOnce(client, target, channel, id);
      checker.committed(id, version);
      if (!(await waitUntil(() => checker.deliveredVersion(id) >= version, 10_000))) return false;
      for (const path of paths) await checkedRead(checker, path, { id });
    }
    for (const path of paths) await checkedRead(checker, path, "all");
    // With no write in between, a second read must be a hit: a path that always bypasses the cache
    // would pass every check without testing anything.
    for (const path of paths) {
      const hits = watch.stats().hits;
      await checkedRead(checker, path, { id: 1 });
      await checkedRead(checker, path, { id: 1 });
      if (watch.stats().hits > hits) caching.push(path.name);
    }
    return true;
  });
}
