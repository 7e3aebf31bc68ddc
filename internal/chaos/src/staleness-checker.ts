import type { CacheWatch, ChangeEvent, InvalidateInfo } from "@pgcachewatch/core";

/**
 * The staleness checker.
 *
 * The workload: rows `id = 1..rowCount` of one table, each with a `version` that only the writers
 * change. Every write is one transaction, sent as one simple query:
 *
 *   BEGIN; UPDATE <table> SET version = version + 1 WHERE id = r;
 *   SELECT pg_notify(<channel>, <marker naming r and its new version>) FROM <table> WHERE id = r;
 *
 *   INSERT INTO <marker table> VALUES ('r:version')
 *
 * The NOTIFY marker serves the NOTIFY source; the marker row serves the WAL source, which reports
 * it as a change event whose keys carry "r:version", emitted together with the table's own event
 * at the commit. With the WAL source a write counts as delivered at the second report of its
 * marker: the first can come a moment before the commit is visible to new snapshots (rule 9), and
 * only the re-report promises that nothing read in that window stays.
 *
 * The table's statement-level trigger queues the table's notification at the end of the UPDATE,
 * before the marker. PostgreSQL delivers a transaction's notifications together and in the order
 * they were queued, and transactions' notifications in commit order. So when the engine reports the
 * marker of write W as a change event, it has already handled the table notification of W (and of
 * every write committed before W). The marker is a valid change event for a table in a schema that
 * holds nothing, so it travels the engine's ordinary path and invalidates nothing.
 *
 * Times are `now()` (performance.now() by default) in this process; nothing compares clocks across
 * processes.
 *
 * For a write W of row r to version v:
 *   committedAt(W) — when the COMMIT returned to the writer.
 *   deliveredAt(W) — the earliest of:
 *     - the engine's change event for W's marker;
 *     - an engine flush of everything (listener lost, listener ready, invalidateAll) after
 *       committedAt(W): whatever was cached before the flush is gone, a load that began before it
 *       is not stored (the fill guard's global mark), and a load that begins after it reads a
 *       snapshot taken after W committed.
 *   floor(r, t) — the highest version of r delivered by time t.
 *
 * For a read R of row r that began at startedAt(R) and saw version(R):
 *   Rule A, stale after delivery: version(R) >= floor(r, startedAt(R)). A read that started after
 *     the invalidation for W was delivered must reflect W. This rule compares only the order of
 *     events in this process, never durations, so it holds on any machine however slow.
 *   Rule B, bounded staleness: age(R) <= staleAfterMs, where
 *       age(R) = startedAt(R) - min{ committedAt(W) : W writes r, version(W) > version(R),
 *                                    committedAt(W) < startedAt(R) }   (0 if there is none)
 *     i.e. how long a newer version had already been committed when the read began. Measured at
 *     the start of the read, so the read's own query is not counted against it ("the delivery
 *     latency plus one query"). `staleAfterMs` is the longest the source may take to deliver a
 *     change or to notice that it cannot (for the NOTIFY source: two heartbeat periods) plus slack
 *     for a loaded machine. Rule B catches what rule A cannot see: a write whose delivery never
 *     comes (a source that stays "ready" but delivers nothing).
 * A read is stale if it breaks either rule. A read that failed (the server was down) is not checked.
 */

/** The marker's schema: no table lives there, so its change events invalidate nothing. */
export const MARKER_SCHEMA = "pgcw_chaos_marker";
/** The marker table (in MARKER_SCHEMA) the WAL source reports, with the marker as its row key. */
export const MARKER_TABLE = "marks";

export interface RowVersion {
  id: number;
  version: number;
}

export interface StalenessCheckerOptions {
  rowCount: number;
  /** Rule B's bound in ms. */
  staleAfterMs: number;
  /** Clock in ms; default performance.now(). */
  now?: () => number;
  /** Reports of a marker that make its write delivered: 1 for NOTIFY, 2 for the WAL source (rule 9). Default 1. */
  markerSightings?: number;
  /** Keep at most this many violations as examples. Default 20. */
  keepViolations?: number;
}

export interface Violation {
  rule: "after-delivery" | "beyond-bound";
  via: string;
  id: number;
  sawVersion: number;
  /** Rule A: the delivered version the read should have reflected. */
  deliveredVersion?: number;
  /** Rule B: how long a newer version had been committed when the read began. */
  ageMs?: number;
  startedAt: number;
}

export interface CheckerReport {
  readsChecked: number;
  rowsChecked: number;
  readsBy: Record<string, number>;
  readErrors: number;
  staleReads: number;
  staleAfterDelivery: number;
  staleBeyondBound: number;
  /** The largest age(R) of any read (allowed or not). */
  worstStalenessMs: number;
  staleAfterMs: number;
  writesCommitted: number;
  writeErrors: number;
  /** Writes whose marker reached the engine. */
  deliveredByMarker: number;
  /** Engine flushes of everything that the checker saw. */
  flushes: number;
  /** Delivery latency of markers, from COMMIT returned to the engine's change event (0 when it came first). */
  deliveryLatencyMs: { p50: number; p99: number; max: number } | undefined;
  violations: Violation[];
}

export interface ReadToken {
  readonly startedAt: number;
  readonly floors: Int32Array;
}

interface RowState {
  floor: number;
  maxCommitted: number;
  /** Commit-returned times by version (index = version); NaN where unknown. */
  committedAt: number[];
  /** Marker arrival by version, for writes whose COMMIT had not returned yet. */
  markerAt: Map<number, number>;
}

export class StalenessChecker {
  readonly #options: Required<Omit<StalenessCheckerOptions, "now">>;
  readonly #now: () => number;
  readonly #rows: RowState[];
  readonly #latencies: number[] = [];
  readonly #sightings = new Map<string, number>();
  readonly #report: Omit<CheckerReport, "deliveryLatencyMs" | "staleAfterMs">;

  constructor(options: StalenessCheckerOptions) {
    this.#options = { keepViolations: 20, markerSightings: 1, ...options };
    this.#now = options.now ?? (() => performance.now());
    this.#rows = Array.from({ length: options.rowCount + 1 }, () => ({
      floor: 0,
      maxCommitted: 0,
      committedAt: [],
      markerAt: new Map(),
    }));
    this.#report = {
      readsChecked: 0,
      rowsChecked: 0,
      readsBy: {},
      readErrors: 0,
      staleReads: 0,
      staleAfterDelivery: 0,
      staleBeyondBound: 0,
      worstStalenessMs: 0,
      writesCommitted: 0,
      writeErrors: 0,
      deliveredByMarker: 0,
      flushes: 0,
      violations: [],
    };
  }

  /** The marker payload's table name for a row's version. */
  static markerTable(id: number, version: number): string {
    return `${id}:${version}`;
  }

  /** Follow an engine: marker change events and flushes of everything move the floors. Returns a detach function. */
  attach(watch: CacheWatch): () => void {
    const onChange = (event: ChangeEvent) => {
      if (event.schema !== MARKER_SCHEMA) return;
      if (event.table !== MARKER_TABLE) this.#sighted(event.table);
      else for (const key of event.keys ?? []) if (typeof key.mark === "string") this.#sighted(key.mark);
    };
    const onInvalidate = (info: InvalidateInfo) => {
      if (info.all) this.flushed();
    };
    watch.on("change", onChange);
    watch.on("invalidate", onInvalidate);
    return () => {
      watch.off("change", onChange);
      watch.off("invalidate", onInvalidate);
    };
  }

  /** Set the versions rows start at (before any write or read). */
  baseline(rows: readonly RowVersion[]): void {
    for (const { id, version } of rows) {
      const row = this.#row(id);
      row.floor = Math.max(row.floor, version);
      row.maxCommitted = Math.max(row.maxCommitted, version);
    }
  }

  /** A writer's COMMIT returned: row `id` is now at `version`. */
  committed(id: number, version: number): void {
    const row = this.#row(id);
    const at = this.#now();
    row.committedAt[version] = at;
    row.maxCommitted = Math.max(row.maxCommitted, version);
    this.#report.writesCommitted++;
    const markerAt = row.markerAt.get(version);
    if (markerAt !== undefined) {
      row.markerAt.delete(version);
      this.#latencies.push(Math.max(0, markerAt - at));
    }
  }

  /** The highest version of row `id` delivered so far. */
  deliveredVersion(id: number): number {
    return this.#row(id).floor;
  }

  writeFailed(): void {
    this.#report.writeErrors++;
  }

  #sighted(marker: string): void {
    const required = this.#options.markerSightings;
    if (required <= 1) {
      this.markerDelivered(marker);
      return;
    }
    const seen = (this.#sightings.get(marker) ?? 0) + 1;
    if (seen < required) this.#sightings.set(marker, seen);
    else {
      this.#sightings.delete(marker);
      this.markerDelivered(marker);
    }
  }

  /** The engine reported a marker: everything up to that version of the row is delivered. */
  markerDelivered(markerTable: string): void {
    const [idText, versionText] = markerTable.split(":");
    const id = Number(idText);
    const version = Number(versionText);
    if (!Number.isInteger(id) || !Number.isInteger(version) || id < 1 || id >= this.#rows.length) return;
    const row = this.#row(id);
    const at = this.#now();
    this.#report.deliveredByMarker++;
    // Already delivered (by a flush, or a WAL source re-streaming from its slot after a reconnect):
    // not a measure of how fast changes arrive.
    if (version <= row.floor) {
      row.markerAt.delete(version);
      return;
    }
    row.floor = version;
    const committedAt = row.committedAt[version];
    if (committedAt === undefined) row.markerAt.set(version, at);
    else this.#latencies.push(Math.max(0, at - committedAt));
  }

  /** The engine dropped everything: every write whose COMMIT has returned counts as delivered. */
  flushed(): void {
    this.#report.flushes++;
    for (const row of this.#rows) row.floor = Math.max(row.floor, row.maxCommitted);
  }

  /** Call right before a read starts. */
  beginRead(): ReadToken {
    const floors = new Int32Array(this.#rows.length);
    for (let i = 1; i < this.#rows.length; i++) floors[i] = this.#rows[i]?.floor ?? 0;
    return { startedAt: this.#now(), floors };
  }

  /** Call with what the read returned. Returns the violations it found (usually none). */
  endRead(token: ReadToken, via: string, rows: readonly RowVersion[]): Violation[] {
    const report = this.#report;
    report.readsChecked++;
    report.readsBy[via] = (report.readsBy[via] ?? 0) + 1;
    const found: Violation[] = [];
    for (const { id, version } of rows) {
      report.rowsChecked++;
      const floor = token.floors[id] ?? 0;
      if (version < floor) {
        found.push({
          rule: "after-delivery",
          via,
          id,
          sawVersion: version,
          deliveredVersion: floor,
          startedAt: token.startedAt,
        });
      }
      const age = this.#age(id, version, token.startedAt);
      if (age > report.worstStalenessMs) report.worstStalenessMs = age;
      if (age > this.#options.staleAfterMs) {
        found.push({
          rule: "beyond-bound",
          via,
          id,
          sawVersion: version,
          ageMs: age,
          startedAt: token.startedAt,
        });
      }
    }
    if (found.length > 0) {
      report.staleReads++;
      if (found.some((v) => v.rule === "after-delivery")) report.staleAfterDelivery++;
      if (found.some((v) => v.rule === "beyond-bound")) report.staleBeyondBound++;
      for (const violation of found) {
        if (report.violations.length < this.#options.keepViolations) report.violations.push(violation);
      }
    }
    return found;
  }

  readFailed(): void {
    this.#report.readErrors++;
  }

  report(): CheckerReport {
    return {
      ...this.#report,
      readsBy: { ...this.#report.readsBy },
      violations: [...this.#report.violations],
      staleAfterMs: this.#options.staleAfterMs,
      deliveryLatencyMs: summarize(this.#latencies),
    };
  }

  /** age(R) of rule B. */
  #age(id: number, sawVersion: number, startedAt: number): number {
    const row = this.#row(id);
    let earliest = Number.POSITIVE_INFINITY;
    for (let v = sawVersion + 1; v <= row.maxCommitted; v++) {
      const at = row.committedAt[v];
      if (at !== undefined && at < startedAt && at < earliest) earliest = at;
    }
    return earliest === Number.POSITIVE_INFINITY ? 0 : startedAt - earliest;
  }

  #row(id: number): RowState {
    const row = this.#rows[id];
    if (row === undefined || id < 1) throw new RangeError(`row ${id} is outside 1..${this.#rows.length - 1}`);
    return row;
  }
}

function summarize(samples: readonly number[]): CheckerReport["deliveryLatencyMs"] {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] ?? 0 };
}
