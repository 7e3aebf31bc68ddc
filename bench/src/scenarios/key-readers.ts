import { type ChangeEvent, createCacheWatch, type InvalidateInfo } from "@pgcachewatch/core";
import { LRUCache } from "lru-cache";
import type pg from "pg";
import { now } from "../measure.js";

export interface Row {
  id: number;
  version: number;
}

/** What an engine told us about the change events it applied, for the checker. */
export interface EventLedger {
  /** Events applied that touched `id`: keyed events naming it plus every table-wide event. */
  appliedFor(id: number): number;
  /** When the n-th event touching `id` (n from 1; table-wide ones included) was applied. */
  appliedAt(id: number, n: number): number | undefined;
  /**
   * Whether the delivery window of the n-th write to `id` had closed by `at`: its event was
   * applied and, for a source with a visibility recheck, a re-report covering it was applied too.
   */
  windowClosed(id: number, n: number, at: number): boolean;
  /**
   * The same verdict for a write identified only by when its statement returned (epoch ms): its
   * event was applied once an event the server committed after that moment was applied (events
   * arrive in commit order), plus the recheck's re-report for a source that has one. Exact when
   * a write's own event may be table-wide (it cannot be picked out among them by counting).
   * Uses the events' sentAt (the WAL source: commit time; NOTIFY: the statement's time, which
   * precedes its commit); false for events without it.
   */
  windowClosedAfterCommit(returnedAtEpoch: number, at: number): boolean;
  /** When the n-th keyed event naming `id` was applied (n from 1), for delivery delays. */
  arrivalOf(id: number, n: number): number | undefined;
  /** First-time events applied that carried no key values (each counts for every key). */
  tableWide(): number;
  /** First-time events applied. */
  events(): number;
  /** Events a source reported a second time (the WAL visibility recheck) and the entries they dropped. */
  reReports(): { events: number; entries: number; tableWide: number };
}

/** How a variant reads a row, and what it tells about hits and event delivery. */
export interface Reader {
  read(id: number): Promise<Row | undefined>;
  hits(): number;
  lookups(): number;
  /** Loads whose result the fill guard refused (engines only). */
  fillsRejected(): number | undefined;
  /** Change events applied (engines only). */
  ledger: EventLedger | undefined;
  close(): Promise<void>;
}

const SELECT = "SELECT id, version FROM fr_rows WHERE id = $1";

/** Key values of an event on `column`; undefined when the event carries none (table-wide for it). */
function idsOf(event: ChangeEvent, column: string): number[] | undefined {
  const values = event.columns?.[column];
  if (values !== undefined) return [...new Set(values)].map(Number);
  if (event.columns === undefined && event.keys && event.keys.length > 0) {
    const ids = event.keys.map((key) => Number(key[column]));
    return ids.every(Number.isFinite) ? [...new Set(ids)] : undefined;
  }
  return undefined;
}

/**
 * Counts the change events an engine applied, per key. Events arrive in commit order and each
 * single-row write is one event, so the n-th applied event naming key k is the n-th write to k.
 * A table-wide event counts for every key: that can only make the checker stricter.
 *
 * With a visibility recheck (WAL), a change is reported again `recheckDelay` ms after its first
 * report (batches due together merged into one event per table): a re-report applied at T covers
 * every first report applied before T - recheckDelay. Timer and clock granularity are met by a
 * slack that makes a window close earlier, never later.
 */
export function ledgerOf(
  watch: ReturnType<typeof createCacheWatch>,
  table: string,
  column: string,
  keys: number,
  recheckDelay: number | undefined,
): EventLedger {
  const SLACK = 2;
  const applied = new Int32Array(keys + 1);
  const arrivals: number[][] = Array.from({ length: keys + 1 }, () => []);
  const reReportTimes: number[][] = Array.from({ length: keys + 1 }, () => []);
  const tableWideTimes: number[] = [];
  const tableWideReReportTimes: number[] = [];
  // First reports in arrival (= commit) order: when applied, and the server's commit time.
  const commits: { at: number; committed: number }[] = [];
  let events = 0;
  let reReports = 0;
  let reReportEntries = 0;
  // The WAL visibility recheck re-reports a change as the original event object, or as a merge of
  // earlier ones carrying the receivedAt of the first (so at least recheckDelay old, and not newer
  // than the last first report). A first report is applied as it arrives: it is never taken for a
  // re-report, so no applied event goes uncounted.
  const seen = new WeakSet<ChangeEvent>();
  let lastReceivedAt = 0;
  const isReReport = (event: ChangeEvent) =>
    seen.has(event) ||
    (recheckDelay !== undefined &&
      event.receivedAt <= lastReceivedAt &&
      Date.now() - event.receivedAt >= recheckDelay / 2);
  watch.on("invalidate", (info: InvalidateInfo) => {
    const event = info.event;
    if (info.reason !== "change" || !event || !info.tables.includes(table)) return;
    const at = now();
    const ids = idsOf(event, column);
    if (isReReport(event)) {
      reReports++;
      reReportEntries += info.entries;
      if (ids === undefined) tableWideReReportTimes.push(at);
      else for (const id of ids) reReportTimes[id]?.push(at);
      return;
    }
    seen.add(event);
    lastReceivedAt = event.receivedAt;
    events++;
    if (event.sentAt !== undefined) commits.push({ at, committed: event.sentAt });
    if (ids === undefined) {
      tableWideTimes.push(at);
      return;
    }
    for (const id of ids) {
      if (id < 1 || id > keys) continue;
      applied[id] = (applied[id] ?? 0) + 1;
      arrivals[id]?.push(at);
    }
  });
  const appliedAt = (id: number, n: number): number | undefined => {
    const keyed = arrivals[id] ?? [];
    if (tableWideTimes.length === 0) return keyed[n - 1];
    // The n-th of both sorted lists merged.
    let i = 0;
    let j = 0;
    let last: number | undefined;
    for (let taken = 0; taken < n; taken++) {
      const a = keyed[i] ?? Number.POSITIVE_INFINITY;
      const b = tableWideTimes[j] ?? Number.POSITIVE_INFINITY;
      if (a === Number.POSITIVE_INFINITY && b === Number.POSITIVE_INFINITY) return undefined;
      if (a <= b) {
        last = a;
        i++;
      } else {
        last = b;
        j++;
      }
    }
    return last;
  };
  const coveredBy = (times: readonly number[], from: number, to: number) => {
    for (let i = times.length - 1; i >= 0; i--) {
      const t = times[i] ?? 0;
      if (t < from) return false;
      if (t <= to) return true;
    }
    return false;
  };
  return {
    appliedFor: (id) => (applied[id] ?? 0) + tableWideTimes.length,
    appliedAt,
    windowClosed(id, n, at) {
      const first = appliedAt(id, n);
      if (first === undefined || first > at) return false;
      if (recheckDelay === undefined) return true;
      const from = first + recheckDelay - SLACK;
      return coveredBy(reReportTimes[id] ?? [], from, at) || coveredBy(tableWideReReportTimes, from, at);
    },
    windowClosedAfterCommit(returnedAtEpoch, at) {
      // Date.now() floors: the write committed before returnedAtEpoch + 1.
      const after = commits.find((c) => c.committed > returnedAtEpoch + 1);
      if (after === undefined || after.at > at) return false;
      if (recheckDelay === undefined) return true;
      // Re-reports of one table are due in the order of their first reports: one applied at or
      // after first + recheckDelay means the re-report of every earlier change was applied too.
      const from = after.at + recheckDelay - SLACK;
      return (
        reReportTimes.some((times) => coveredBy(times, from, at)) ||
        coveredBy(tableWideReReportTimes, from, at)
      );
    },
    arrivalOf: (id, n) => arrivals[id]?.[n - 1],
    tableWide: () => tableWideTimes.length,
    events: () => events,
    reReports: () => ({
      events: reReports,
      entries: reReportEntries,
      tableWide: tableWideReReportTimes.length,
    }),
  };
}

/**
 * "table": the read names its table (every write to fr_rows drops it, as before row-level
 * invalidation); "row": raw SQL through watch.query, dependencies derived by the analyzer, so a
 * write to another row leaves the entry in place.
 */
export async function engineReader(
  pool: pg.Pool,
  options: Parameters<typeof createCacheWatch>[0],
  granularity: "table" | "row",
  keys: number,
  recheckDelay: number | undefined,
): Promise<Reader> {
  const watch = createCacheWatch({ ...options, ttl: 0 });
  await watch.start();
  const ledger = ledgerOf(watch, "public.fr_rows", "id", keys, recheckDelay);
  const statsAtStart = watch.stats();
  return {
    ledger,
    read: (id) =>
      granularity === "row"
        ? watch.query<Row>(pool, SELECT, [id]).then((result) => result.rows[0])
        : watch.load({ key: `fr:${id}`, tables: ["fr_rows"] }, async () => {
            const { rows } = await pool.query<Row>({ name: "fr-read", text: SELECT, values: [id] });
            return rows[0];
          }),
    hits: () => watch.stats().hits - statsAtStart.hits,
    lookups: () => {
      const stats = watch.stats();
      return stats.hits + stats.misses - statsAtStart.hits - statsAtStart.misses;
    },
    fillsRejected: () => watch.stats().fillsRejected - statsAtStart.fillsRejected,
    close: () => watch.stop(),
  };
}

/**
 * Deliberately broken, to show the checker can fail: every tenth key is answered from a private
 * copy made on its first read, which no event ever drops. Never part of the default run.
 */
export function brokenReader(inner: Reader): Reader {
  const frozen = new Map<number, Row | undefined>();
  return {
    ...inner,
    async read(id) {
      if (id % 10 !== 0) return inner.read(id);
      if (frozen.has(id)) return frozen.get(id);
      const row = await inner.read(id);
      frozen.set(id, row);
      return row;
    },
  };
}

export function ttlReader(pool: pg.Pool, ttl: number): Reader {
  const cache = new LRUCache<number, Row>({ max: 10_000, ttl });
  let hits = 0;
  let lookups = 0;
  return {
    async read(id) {
      lookups++;
      const cachedRow = cache.get(id);
      if (cachedRow !== undefined) {
        hits++;
        return cachedRow;
      }
      const { rows } = await pool.query<Row>({ name: "fr-read", text: SELECT, values: [id] });
      if (rows[0]) cache.set(id, rows[0]);
      return rows[0];
    },
    hits: () => hits,
    lookups: () => lookups,
    fillsRejected: () => undefined,
    ledger: undefined,
    close: async () => {},
  };
}

export function directReader(pool: pg.Pool): Reader {
  return {
    async read(id) {
      const { rows } = await pool.query<Row>({ name: "fr-read", text: SELECT, values: [id] });
      return rows[0];
    },
    hits: () => 0,
    lookups: () => 0,
    fillsRejected: () => undefined,
    ledger: undefined,
    close: async () => {},
  };
}
