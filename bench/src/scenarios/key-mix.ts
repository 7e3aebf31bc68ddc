import pg from "pg";
import { connect } from "../environment.js";
import { now, sleep } from "../measure.js";
import { Zipf } from "../zipf.js";
import type { Reader } from "./key-readers.js";

/** The shape of one zipfian read/write mix over fr_rows. */
export interface MixShape {
  keys: number;
  readers: number;
  /** Concurrent writer connections: the write rate is not one connection's commit latency. */
  writers: number;
  /** Fraction of all operations that are writes. */
  writeShare: number;
}

/** Raw counts of one timed run; runs of the same variant add up. */
export interface MixCounts {
  seconds: number;
  reads: number;
  writes: number;
  hits: number;
  lookups: number;
  stale: number;
  /**
   * Stale reads whose missed write's delivery window had closed when the read began (engines only):
   * its event applied and, for WAL, the visibility recheck's re-report of it too.
   */
  staleBeyond: number;
  /** Stale reads whose missed write's first event had been applied when the read began (engines only). */
  staleAfterEvent: number;
  staleAges: number[];
  writeLatencies: number[];
  /** UPDATE returned -> its event applied, per write (engines only; 0 when applied first). */
  deliveryDelays: number[] | undefined;
  fillsRejected: number;
  events: number;
  tableWideEvents: number;
  reReports: number;
  reReportEntries: number;
  /** Re-reports that carried no id values (a merge over too many keys): each dropped every row entry. */
  reReportsTableWide: number;
}

export function addCounts(a: MixCounts, b: MixCounts): MixCounts {
  return {
    seconds: a.seconds + b.seconds,
    reads: a.reads + b.reads,
    writes: a.writes + b.writes,
    hits: a.hits + b.hits,
    lookups: a.lookups + b.lookups,
    stale: a.stale + b.stale,
    staleBeyond: a.staleBeyond + b.staleBeyond,
    staleAfterEvent: a.staleAfterEvent + b.staleAfterEvent,
    staleAges: a.staleAges.concat(b.staleAges),
    writeLatencies: a.writeLatencies.concat(b.writeLatencies),
    deliveryDelays:
      a.deliveryDelays && b.deliveryDelays ? a.deliveryDelays.concat(b.deliveryDelays) : undefined,
    fillsRejected: a.fillsRejected + b.fillsRejected,
    events: a.events + b.events,
    tableWideEvents: a.tableWideEvents + b.tableWideEvents,
    reReports: a.reReports + b.reReports,
    reReportEntries: a.reReportEntries + b.reReportEntries,
    reReportsTableWide: a.reReportsTableWide + b.reReportsTableWide,
  };
}

/** fr_rows with `keys` rows at version 0. */
export async function createRows(admin: pg.ClientBase, keys: number): Promise<void> {
  await admin.query("DROP TABLE IF EXISTS fr_rows");
  await admin.query("CREATE TABLE fr_rows (id integer PRIMARY KEY, version integer NOT NULL)");
  await admin.query(`INSERT INTO fr_rows SELECT g, 0 FROM generate_series(1, ${keys}) AS g`);
}

/**
 * One timed run. Writers are `UPDATE fr_rows SET version = version + 1 ... RETURNING version` on
 * their own connections; per key the row lock serialises them, so version n is the n-th commit to
 * that key. A read is stale when it returns a version older than one whose UPDATE had returned
 * before the read began; it is beyond the delivery window when the engine had applied the event
 * of that write (the n-th event naming the key) before the read began.
 */
export async function runMix(
  url: string,
  shape: MixShape,
  seconds: number,
  makeReader: (pool: pg.Pool) => Promise<Reader>,
): Promise<MixCounts> {
  const { keys, readers: readerCount, writers: writerCount, writeShare } = shape;
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const writers = await Promise.all(Array.from({ length: writerCount }, () => connect(url)));
  const reader = await makeReader(pool);
  const ledger = reader.ledger;
  await warm(keys, readerCount, (id) => reader.read(id));
  const hitsAtStart = reader.hits();
  const lookupsAtStart = reader.lookups();
  const rejectedAtStart = reader.fillsRejected() ?? 0;
  const eventsAtStart = ledger?.events() ?? 0;
  const tableWideAtStart = ledger?.tableWide() ?? 0;
  const reReportsAtStart = ledger?.reReports() ?? { events: 0, entries: 0, tableWide: 0 };
  const zipf = new Zipf(keys);
  const first = writers[0];
  if (!first) throw new Error("a mix needs at least one writer");
  const { rows: initial } = await first.query<{ id: number; version: number }>(
    "SELECT id, version FROM fr_rows",
  );
  // Per key: the highest version whose UPDATE has returned, and when each version's UPDATE returned.
  const maxReturned = new Int32Array(keys + 1);
  const baseVersion = new Int32Array(keys + 1);
  const returnedAt: number[][] = Array.from({ length: keys + 1 }, () => []);
  for (const row of initial) {
    maxReturned[row.id] = row.version;
    baseVersion[row.id] = row.version;
  }
  let writesIssued = 0;
  let writesReturned = 0;
  let reads = 0;
  let stale = 0;
  let beyond = 0;
  let afterEvent = 0;
  const staleAges: number[] = [];
  const writeLatencies: number[] = [];

  const write = async (client: pg.Client, id: number) => {
    const t0 = now();
    const { rows } = await client.query<{ version: number }>({
      name: "fr-write",
      text: "UPDATE fr_rows SET version = version + 1 WHERE id = $1 RETURNING version",
      values: [id],
    });
    const at = now();
    writeLatencies.push(at - t0);
    writesReturned++;
    const version = rows[0]?.version ?? 0;
    const times = returnedAt[id];
    if (times) times[version] = at;
    // Two writers on one key may see their UPDATEs return out of commit order: keep the highest.
    if (version > (maxReturned[id] ?? 0)) maxReturned[id] = version;
  };
  const check = async (id: number) => {
    const started = now();
    const latest = maxReturned[id] ?? 0;
    const applied = ledger?.appliedFor(id);
    const row = await reader.read(id);
    reads++;
    const got = row?.version ?? 0;
    if (got >= latest) return;
    stale++;
    // The first write this read missed: the lowest version above it whose UPDATE returned before the read began.
    const times = returnedAt[id] ?? [];
    let missed = got + 1;
    while (missed < latest && !((times[missed] ?? Number.POSITIVE_INFINITY) <= started)) missed++;
    staleAges.push(started - (times[missed] ?? started));
    const n = missed - (baseVersion[id] ?? 0);
    if (applied !== undefined && applied >= n) afterEvent++;
    if (ledger?.windowClosed(id, n, started)) beyond++;
  };

  // Writes are kept at writeShare of all operations: a writer starts a write only while the writes
  // issued are below that share of the reads done; readers pause only when the writers fall far
  // behind, so the mix holds on a slow disk too.
  const readsPerWrite = (1 - writeShare) / writeShare;
  const writesAllowed = () => Math.floor(reads / readsPerWrite);
  let running = true;
  let wakeWriters: (() => void)[] = [];
  let wakeReaders: (() => void)[] = [];
  const wake = (waiting: (() => void)[]) => {
    for (const resolve of waiting) resolve();
  };
  const readerLoops = Array.from({ length: readerCount }, async () => {
    while (running) {
      if (reads > (writesReturned + writerCount + readerCount) * readsPerWrite) {
        await new Promise<void>((resolve) => wakeReaders.push(resolve));
        continue;
      }
      await check(zipf.next());
      // The next read starts from the event loop, as a request arriving on a socket would: a run of
      // cache hits (microtasks only) must not hold back the writers' replies.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (wakeWriters.length > 0 && writesIssued < writesAllowed()) {
        const waiting = wakeWriters;
        wakeWriters = [];
        wake(waiting);
      }
    }
  });
  const writerLoops = writers.map(async (client) => {
    while (running) {
      if (writesIssued >= writesAllowed()) {
        await new Promise<void>((resolve) => {
          wakeWriters.push(resolve);
          setTimeout(resolve, 50).unref();
        });
        continue;
      }
      writesIssued++;
      await write(client, zipf.next());
      const waiting = wakeReaders;
      wakeReaders = [];
      wake(waiting);
    }
  });
  const started = now();
  await sleep(seconds * 1000);
  running = false;
  wake(wakeWriters);
  wake(wakeReaders);
  await Promise.all([...readerLoops, ...writerLoops]);
  const elapsed = (now() - started) / 1000;
  // Let the last events arrive before measuring delivery.
  if (ledger) await sleep(50);
  const deliveryDelays = ledger ? delaysOf(ledger, returnedAt, baseVersion, keys) : undefined;
  const counts: MixCounts = {
    seconds: elapsed,
    reads,
    writes: writesReturned,
    hits: reader.hits() - hitsAtStart,
    lookups: reader.lookups() - lookupsAtStart,
    stale,
    staleBeyond: beyond,
    staleAfterEvent: afterEvent,
    staleAges,
    writeLatencies,
    deliveryDelays,
    fillsRejected: (reader.fillsRejected() ?? 0) - rejectedAtStart,
    events: (ledger?.events() ?? 0) - eventsAtStart,
    tableWideEvents: (ledger?.tableWide() ?? 0) - tableWideAtStart,
    reReports: (ledger?.reReports().events ?? 0) - reReportsAtStart.events,
    reReportEntries: (ledger?.reReports().entries ?? 0) - reReportsAtStart.entries,
    reReportsTableWide: (ledger?.reReports().tableWide ?? 0) - reReportsAtStart.tableWide,
  };
  await reader.close();
  await Promise.all(writers.map((client) => client.end()));
  await pool.end();
  return counts;
}

/**
 * Reads every key once before the timed window (not counted), so a run measures a process that has
 * been serving for a while, not its first fills.
 */
export async function warm(
  keys: number,
  concurrency: number,
  read: (id: number) => Promise<unknown>,
): Promise<void> {
  let next = 1;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next <= keys) await read(next++);
    }),
  );
}

/** Per write: its event's arrival minus its UPDATE's return (the n-th event naming k is version n of k). */
function delaysOf(
  ledger: NonNullable<Reader["ledger"]>,
  returnedAt: number[][],
  baseVersion: Int32Array,
  keys: number,
): number[] {
  const delays: number[] = [];
  for (let id = 1; id <= keys; id++) {
    const times = returnedAt[id] ?? [];
    const base = baseVersion[id] ?? 0;
    times.forEach((returned, version) => {
      const arrived = ledger.arrivalOf(id, version - base);
      if (arrived !== undefined) delays.push(Math.max(0, arrived - returned));
    });
  }
  return delays;
}
