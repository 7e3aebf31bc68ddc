import { type CacheWatch, createCacheWatch, type LoadRequest } from "@pgcachewatch/core";
import { CacheObserverBase } from "@pgcachewatch/core/observability";
import { pgCacheWatch } from "@pgcachewatch/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { ensurePrismaClient } from "../../scripts/generate-client.mjs";
import { connect, dropTriggers, installStatementTriggers } from "../environment.js";
import { int, ms, pct } from "../format.js";
import { now, sleep } from "../measure.js";
import { type SectionResult, section } from "../result.js";
import { type SourceVariant, sourceVariants } from "../sources.js";
import { Zipf } from "../zipf.js";
import type { ScenarioContext } from "./context.js";
import { warm } from "./key-mix.js";
import { type EventLedger, ledgerOf } from "./key-readers.js";

/** Authors 1..READ_AUTHORS are read; the others are only written. */
const READ_AUTHORS = 100;
const OTHER_AUTHORS = 100;
const AUTHORS = READ_AUTHORS + OTHER_AUTHORS;
const POSTS_PER_AUTHOR = 5;
const READERS = 16;
const WRITERS = 4;
const WRITE_SHARE = 0.05;
/** Share of the writes that touch a read author's posts, so the stale check has something to catch. */
const OWN_SHARE = 0.1;
const TABLES = ["fk_users", "fk_posts"];

interface Post {
  id: number;
  version: number;
}

interface AuthorReader {
  read(author: number): Promise<readonly Post[]>;
  hits(): number;
  lookups(): number;
  ledger: EventLedger | undefined;
  /** What the engine recorded as the dependencies of a stored read (engines only). */
  dependencies(): string | undefined;
  close(): Promise<void>;
}

interface Variant {
  name: string;
  triggers: boolean;
  /** fk_posts with REPLICA IDENTITY FULL (the WAL source then sees an UPDATE's old author_id). */
  identityFull?: boolean;
  reader: (pool: pg.Pool) => Promise<AuthorReader>;
}

interface Counts {
  seconds: number;
  reads: number;
  writes: number;
  hits: number;
  lookups: number;
  stale: number;
  staleBeyond: number;
  /** Stale reads whose first missed write's event had been applied (before any recheck). */
  staleAfterEvent: number;
  staleAges: number[];
  tableWideEvents: number;
  events: number;
  dependencies: string | undefined;
}

const RAW_SQL = "SELECT id, author_id, version FROM fk_posts WHERE author_id = $1 ORDER BY id";

/**
 * Posts by author: `posts where author_id = $1` (raw SQL through watch.query) and Prisma
 * `user.findUnique({ include: { posts: true } })`, while raw writers insert and update posts,
 * mostly of authors nobody reads. Row-level dependencies on author_id keep those writes from
 * dropping the entries that are read.
 */
export async function runForeignKey(context: ScenarioContext): Promise<SectionResult> {
  const seconds = context.quick ? 1 : 8;
  const result = section(
    "fk",
    "Foreign-key workload",
    `${READERS} readers read the posts of one of ${READ_AUTHORS} authors (zipf s=1); ${pct(WRITE_SHARE)} of ` +
      `operations are raw writes on ${WRITERS} connections of their own, half INSERT of a post, half UPDATE of a ` +
      `post's version; ${pct(1 - OWN_SHARE)} of them for the ${OTHER_AUTHORS} authors nobody reads, ` +
      `${pct(OWN_SHARE)} for read authors (so stale reads can show). ${seconds}s per variant${context.quick ? "" : ", each run twice (A B B A)"}, after reading every author once (warm cache, not timed).`,
  );
  const admin = await connect(context.url);
  await admin.query("DROP TABLE IF EXISTS fk_posts; DROP TABLE IF EXISTS fk_users");
  await admin.query("CREATE TABLE fk_users (id integer PRIMARY KEY, name text NOT NULL)");
  await admin.query(
    "CREATE TABLE fk_posts (id serial PRIMARY KEY, author_id integer NOT NULL REFERENCES fk_users (id), " +
      "title text NOT NULL, version integer NOT NULL)",
  );
  await admin.query("CREATE INDEX fk_posts_author ON fk_posts (author_id)");
  await admin.query(`INSERT INTO fk_users SELECT g, 'author ' || g FROM generate_series(1, ${AUTHORS}) AS g`);
  await admin.query(
    `INSERT INTO fk_posts (author_id, title, version)
     SELECT a, 'post ' || p, 0 FROM generate_series(1, ${AUTHORS}) AS a, generate_series(1, ${POSTS_PER_AUTHOR}) AS p`,
  );
  const prisma = await prismaClass();
  const sources = sourceVariants(context.walAvailable);
  const variants: Variant[] = [
    ...sources.map((source) => ({
      name: `raw watch.query row-level (${source.name})`,
      triggers: source.needsTriggers,
      reader: (pool: pg.Pool) => rawEngineReader(pool, source, context.url, "row"),
    })),
    ...sources
      .filter((source) => source.name === "wal")
      .map((source) => ({
        name: "raw watch.query row-level (wal, REPLICA IDENTITY FULL)",
        triggers: false,
        identityFull: true,
        reader: (pool: pg.Pool) => rawEngineReader(pool, source, context.url, "row"),
      })),
    {
      name: "raw watch.load table-level (notify)",
      triggers: true,
      reader: (pool: pg.Pool) => rawEngineReader(pool, sources[0] as SourceVariant, context.url, "table"),
    },
    { name: "raw, no cache", triggers: false, reader: async (pool: pg.Pool) => rawDirectReader(pool) },
    ...sources.map((source) => ({
      name: `Prisma findUnique include posts (${source.name})`,
      triggers: source.needsTriggers,
      reader: () => prismaEngineReader(prisma, source, context.url),
    })),
    { name: "Prisma, no cache", triggers: false, reader: () => prismaDirectReader(prisma, context.url) },
  ];
  if (context.proveChecker) {
    variants.push({
      name: "BROKEN: raw row-level (notify), every tenth author never invalidated",
      triggers: true,
      reader: async (pool: pg.Pool) =>
        brokenAuthorReader(await rawEngineReader(pool, sources[0] as SourceVariant, context.url, "row")),
    });
    // The WAL source without REPLICA IDENTITY FULL sends table-wide UPDATE events: this one
    // exercises the commit-order verdict.
    const wal = sources.find((source) => source.name === "wal");
    if (wal) {
      variants.push({
        name: "BROKEN: raw row-level (wal), every tenth author never invalidated",
        triggers: false,
        reader: async (pool: pg.Pool) =>
          brokenAuthorReader(await rawEngineReader(pool, wal, context.url, "row")),
      });
    }
  }
  const counts = new Map<string, Counts>();
  try {
    // Quick mode runs each variant once; a full run twice, A B B A.
    const order = context.quick ? variants : [...variants, ...[...variants].reverse()];
    for (const variant of order) {
      for (const table of TABLES) await dropTriggers(admin, table);
      if (variant.triggers) await installStatementTriggers(admin, TABLES);
      await admin.query(`ALTER TABLE fk_posts REPLICA IDENTITY ${variant.identityFull ? "FULL" : "DEFAULT"}`);
      context.log(`fk: ${variant.name}`);
      const measured = await runAuthorMix(context.url, context.quick ? seconds : seconds / 2, variant.reader);
      const previous = counts.get(variant.name);
      counts.set(variant.name, previous ? add(previous, measured) : measured);
    }
  } finally {
    for (const table of TABLES) await dropTriggers(admin, table);
    await admin.end();
  }
  const ops = (c: Counts) => (c.reads + c.writes) / c.seconds;
  const base = (name: string) => counts.get(name.startsWith("Prisma") ? "Prisma, no cache" : "raw, no cache");
  result.tables.push({
    title: "Posts by author while other authors' posts are written",
    columns: [
      "variant",
      "ops/s",
      "vs no cache",
      "hit ratio",
      "stale reads",
      "stale after first event",
      "stale beyond window",
      "max stale age",
      "table-wide events",
      "reads",
      "writes",
    ],
    rows: [...counts.entries()].map(([name, c]) => {
      const uncached = base(name);
      return [
        name,
        int(ops(c)),
        uncached && uncached !== c ? `${(ops(c) / ops(uncached)).toFixed(2)}x` : "",
        name.includes("no cache") ? "" : pct(c.hits / Math.max(1, c.lookups)),
        `${int(c.stale)} (${pct(c.stale / Math.max(1, c.reads))})`,
        c.events > 0 ? int(c.staleAfterEvent) : "",
        c.events > 0 ? int(c.staleBeyond) : "",
        ms(c.staleAges.reduce((max, age) => Math.max(max, age), 0)),
        c.events > 0 ? `${int(c.tableWideEvents)} of ${int(c.events)}` : "",
        int(c.reads),
        int(c.writes),
      ];
    }),
  });
  result.tables.push({
    title: "Dependencies the engine recorded for the last read it stored in a run",
    columns: ["variant", "dependencies"],
    rows: [...counts.entries()]
      .filter(([, c]) => c.dependencies !== undefined)
      .map(([name, c]) => [name, c.dependencies ?? ""]),
  });
  result.notes.push(
    "Stale check: per author the writes run on one writer connection (author mod 4), so they commit in order; " +
      "the sum of the versions plus the number of posts a read returns is the number of that author's writes it " +
      "reflects. A read is stale when that is below the writes whose statement returned before the read began " +
      "(the same verdict as a fresh read taken when the read began, for the rows written). After first event: " +
      "the engine had applied the event of the first missed write (the n-th event naming the author) before the " +
      "read began; beyond the window: that, and for WAL the visibility recheck's re-report of it too (as in the " +
      "freshness scenario). Where events without author_id values occur (WAL without REPLICA IDENTITY FULL), the missed write is identified by commit order instead: its window closes once an event the server committed after that write returned was applied (and re-reported, for WAL).",
    "What Prisma sends for findUnique({ where: { id }, include: { posts: true } }): " +
      '`SELECT ... FROM "public"."fk_users" WHERE ("public"."fk_users"."id" = $1 AND 1=1) LIMIT $2 OFFSET $3`, then ' +
      '`SELECT ... FROM "public"."fk_posts" WHERE "public"."fk_posts"."author_id" = $1 OFFSET $2`: two statements, ' +
      "each with an equality the analyzer turns into a row dependency (fk_users.id, fk_posts.author_id). " +
      "Concurrent findUnique calls in one tick are batched by Prisma into `id IN (...)` and `author_id IN (...)`; " +
      "each entry of the batch then depends on every author in it (still row-level, a write to any of them drops it).",
    "Table-wide events are events that carry no author_id values: every entry constrained on author_id is dropped " +
      "by them. The WAL source cannot know an UPDATE's old author_id without REPLICA IDENTITY FULL (only the old " +
      "key columns are sent when the key changes), so its UPDATE events drop every author's posts; with " +
      "REPLICA IDENTITY FULL the old row comes with every UPDATE and the events carry author_id.",
  );
  for (const [name, c] of counts) {
    if (c.events === 0) continue;
    result.targets.push({
      target: `zero stale reads beyond the delivery window (fk: ${name})`,
      measured: `${int(c.staleBeyond)} beyond, ${int(c.stale - c.staleBeyond)} inside the window`,
      met: c.staleBeyond === 0,
    });
  }
  result.charts.push({
    title: "Foreign-key workload throughput (ops/s)",
    unit: "ops/s",
    log: false,
    series: ["ops/s"],
    groups: [...counts.entries()].map(([name, c]) => ({ label: name, values: [ops(c)] })),
  });
  result.charts.push({
    title: "Foreign-key workload hit ratio (%)",
    unit: "%",
    log: false,
    series: ["hit ratio"],
    groups: [...counts.entries()]
      .filter(([name]) => !name.includes("no cache"))
      .map(([name, c]) => ({ label: name, values: [(c.hits / Math.max(1, c.lookups)) * 100] })),
  });
  return result;
}

function add(a: Counts, b: Counts): Counts {
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
    tableWideEvents: a.tableWideEvents + b.tableWideEvents,
    events: a.events + b.events,
    dependencies: a.dependencies ?? b.dependencies,
  };
}

async function runAuthorMix(
  url: string,
  seconds: number,
  makeReader: (pool: pg.Pool) => Promise<AuthorReader>,
): Promise<Counts> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const writers = await Promise.all(Array.from({ length: WRITERS }, () => connect(url)));
  const reader = await makeReader(pool);
  const ledger = reader.ledger;
  await warm(READ_AUTHORS, READERS, (author) => reader.read(author));
  const hitsAtStart = reader.hits();
  const lookupsAtStart = reader.lookups();
  const eventsAtStart = ledger?.events() ?? 0;
  const tableWideAtStart = ledger?.tableWide() ?? 0;
  const zipf = new Zipf(READ_AUTHORS);
  // Per author: the writes reflected in the table now, and when each later write's statement returned.
  const { rows: initial } = await pool.query<{ author_id: number; n: string }>(
    "SELECT author_id, sum(version) + count(*) AS n FROM fk_posts GROUP BY author_id",
  );
  const base = new Float64Array(AUTHORS + 1);
  for (const row of initial) base[row.author_id] = Number(row.n);
  const returned = new Float64Array(AUTHORS + 1);
  const returnedAt: number[][] = Array.from({ length: AUTHORS + 1 }, () => []);
  const returnedAtEpoch: number[][] = Array.from({ length: AUTHORS + 1 }, () => []);
  let reads = 0;
  let writesIssued = 0;
  let writesReturned = 0;
  let stale = 0;
  let beyond = 0;
  let afterEvent = 0;
  const staleAges: number[] = [];

  const readsPerWrite = (1 - WRITE_SHARE) / WRITE_SHARE;
  let running = true;
  let wakeWriters: (() => void)[] = [];
  let wakeReaders: (() => void)[] = [];
  const wakeAll = (waiting: (() => void)[]) => {
    for (const resolve of waiting) resolve();
  };
  const check = async (author: number) => {
    const started = now();
    const latest = returned[author] ?? 0;
    const applied = ledger?.appliedFor(author);
    const posts = await reader.read(author);
    reads++;
    let reflected = -(base[author] ?? 0);
    for (const post of posts) reflected += post.version + 1;
    if (reflected >= latest) return;
    stale++;
    const times = returnedAt[author] ?? [];
    let missed = reflected + 1;
    while (missed < latest && !((times[missed] ?? Number.POSITIVE_INFINITY) <= started)) missed++;
    staleAges.push(started - (times[missed] ?? started));
    if (applied !== undefined && applied >= missed) afterEvent++;
    // An UPDATE's event is table-wide when the source cannot name its author (WAL without
    // REPLICA IDENTITY FULL): counting events per author cannot pick it out, commit order can.
    const closed =
      ledger !== undefined &&
      (ledger.tableWide() > 0
        ? ledger.windowClosedAfterCommit(
            returnedAtEpoch[author]?.[missed] ?? Number.POSITIVE_INFINITY,
            started,
          )
        : ledger.windowClosed(author, missed, started));
    if (closed) beyond++;
  };
  // Writer w writes only authors with (author mod WRITERS) = w: per author, one connection, commits in order.
  const pick = (w: number): number => {
    for (;;) {
      const author =
        Math.random() < OWN_SHARE
          ? zipf.next()
          : READ_AUTHORS + 1 + Math.floor(Math.random() * OTHER_AUTHORS);
      if (author % WRITERS === w) return author;
    }
  };
  const write = async (client: pg.Client, author: number) => {
    if (Math.random() < 0.5) {
      await client.query({
        name: "fk-insert",
        text: "INSERT INTO fk_posts (author_id, title, version) VALUES ($1, 'new post', 0)",
        values: [author],
      });
    } else {
      await client.query({
        name: "fk-update",
        text: `UPDATE fk_posts SET version = version + 1
               WHERE id = (SELECT id FROM fk_posts WHERE author_id = $1 ORDER BY random() LIMIT 1)`,
        values: [author],
      });
    }
    const n = (returned[author] ?? 0) + 1;
    returned[author] = n;
    const times = returnedAt[author];
    if (times) times[n] = now();
    const epochTimes = returnedAtEpoch[author];
    if (epochTimes) epochTimes[n] = Date.now();
    writesReturned++;
  };
  const readerLoops = Array.from({ length: READERS }, async () => {
    while (running) {
      if (reads > (writesReturned + WRITERS + READERS) * readsPerWrite) {
        await new Promise<void>((resolve) => wakeReaders.push(resolve));
        continue;
      }
      await check(zipf.next());
      // The next read starts from the event loop, as a request arriving on a socket would.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (wakeWriters.length > 0 && writesIssued < Math.floor(reads / readsPerWrite)) {
        const waiting = wakeWriters;
        wakeWriters = [];
        wakeAll(waiting);
      }
    }
  });
  const writerLoops = writers.map(async (client, w) => {
    while (running) {
      if (writesIssued >= Math.floor(reads / readsPerWrite)) {
        await new Promise<void>((resolve) => {
          wakeWriters.push(resolve);
          setTimeout(resolve, 50).unref();
        });
        continue;
      }
      writesIssued++;
      await write(client, pick(w));
      const waiting = wakeReaders;
      wakeReaders = [];
      wakeAll(waiting);
    }
  });
  const started = now();
  await sleep(seconds * 1000);
  running = false;
  wakeAll(wakeWriters);
  wakeAll(wakeReaders);
  await Promise.all([...readerLoops, ...writerLoops]);
  const elapsed = (now() - started) / 1000;
  const counts: Counts = {
    seconds: elapsed,
    reads,
    writes: writesReturned,
    hits: reader.hits() - hitsAtStart,
    lookups: reader.lookups() - lookupsAtStart,
    stale,
    staleBeyond: beyond,
    staleAfterEvent: afterEvent,
    staleAges,
    tableWideEvents: (ledger?.tableWide() ?? 0) - tableWideAtStart,
    events: (ledger?.events() ?? 0) - eventsAtStart,
    dependencies: reader.dependencies(),
  };
  await reader.close();
  await Promise.all(writers.map((client) => client.end()));
  await pool.end();
  return counts;
}

/** Tags as a person reads them: `fk_posts.author_id = 1`, `fk_users (whole table)`. */
function describeTags(tags: readonly string[]): string {
  const parts: string[] = [];
  for (const tag of tags) {
    const [kind, , table, column, value] = tag.split("\u0000");
    if (kind === "r") parts.push(`${table}.${column} = ${value}`);
    else if (kind === "t") parts.push(`${table} (whole table)`);
  }
  return parts.length > 0 ? parts.sort().join(", ") : "(none)";
}

/** The engine with a ledger of fk_posts events per author and the tags of the last read it stored. */
async function startEngine(
  source: SourceVariant,
  url: string,
): Promise<{ watch: CacheWatch; ledger: EventLedger; dependencies: () => string | undefined }> {
  const watch = createCacheWatch({ ...source.options(url, TABLES), ttl: 0 });
  await watch.start();
  const ledger = ledgerOf(watch, "public.fk_posts", "author_id", AUTHORS, source.recheckDelay);
  let recorded: string | undefined;
  watch.addObserver(
    new (class extends CacheObserverBase {
      override loadStart(_request: LoadRequest, _key: string) {
        return {
          run: <T>(loader: () => T): T => loader(),
          end: (result: { outcome: string; tags: readonly string[] }) => {
            if (result.outcome === "stored") {
              recorded = describeTags(result.tags);
            }
          },
        };
      }
    })(),
  );
  return { watch, ledger, dependencies: () => recorded };
}

function statsOf(watch: CacheWatch) {
  const start = watch.stats();
  return {
    hits: () => watch.stats().hits - start.hits,
    lookups: () => {
      const s = watch.stats();
      return s.hits + s.misses - start.hits - start.misses;
    },
  };
}

async function rawEngineReader(
  pool: pg.Pool,
  source: SourceVariant,
  url: string,
  granularity: "row" | "table",
): Promise<AuthorReader> {
  const { watch, ledger, dependencies } = await startEngine(source, url);
  const stats = statsOf(watch);
  return {
    ...stats,
    ledger,
    dependencies,
    read: (author) =>
      granularity === "row"
        ? watch.query<Post>(pool, RAW_SQL, [author]).then((r) => r.rows)
        : watch.load({ key: `fk:${author}`, tables: ["fk_posts"] }, async () => {
            const { rows } = await pool.query<Post>({ name: "fk-read", text: RAW_SQL, values: [author] });
            return rows;
          }),
    close: () => watch.stop(),
  };
}

/** Deliberately broken, to show the checker can fail: every tenth author is answered from a copy no event drops. */
function brokenAuthorReader(inner: AuthorReader): AuthorReader {
  const frozen = new Map<number, readonly Post[]>();
  return {
    ...inner,
    async read(author) {
      if (author % 10 !== 0) return inner.read(author);
      const known = frozen.get(author);
      if (known) return known;
      const posts = await inner.read(author);
      frozen.set(author, posts);
      return posts;
    },
  };
}

function rawDirectReader(pool: pg.Pool): AuthorReader {
  return {
    read: async (author) =>
      (await pool.query<Post>({ name: "fk-read", text: RAW_SQL, values: [author] })).rows,
    hits: () => 0,
    lookups: () => 0,
    ledger: undefined,
    dependencies: () => undefined,
    close: async () => {},
  };
}

type PrismaClientClass = Awaited<ReturnType<typeof prismaClass>>;

async function prismaClass() {
  ensurePrismaClient();
  return (await import("../../generated/client/client.js")).PrismaClient;
}

async function prismaEngineReader(
  PrismaClient: PrismaClientClass,
  source: SourceVariant,
  url: string,
): Promise<AuthorReader> {
  const { watch, ledger, dependencies } = await startEngine(source, url);
  const stats = statsOf(watch);
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 4 }) });
  const client = base.$extends(pgCacheWatch({ watch }));
  return {
    ...stats,
    ledger,
    dependencies,
    read: async (author) =>
      (await client.fkUser.findUnique({ where: { id: author }, include: { posts: true } }))?.posts ?? [],
    close: async () => {
      await base.$disconnect();
      await watch.stop();
    },
  };
}

async function prismaDirectReader(PrismaClient: PrismaClientClass, url: string): Promise<AuthorReader> {
  const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 4 }) });
  return {
    read: async (author) =>
      (await client.fkUser.findUnique({ where: { id: author }, include: { posts: true } }))?.posts ?? [],
    hits: () => 0,
    lookups: () => 0,
    ledger: undefined,
    dependencies: () => undefined,
    close: () => client.$disconnect(),
  };
}
