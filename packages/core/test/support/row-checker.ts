import pg from "pg";
import type { ChangeEvent } from "../../src/events/change-event.js";
import type { CacheWatch } from "../../src/index.js";

/**
 * The oracle of row-level invalidation: a seeded stream of random writes by an external client,
 * and after each write's event has been applied, every cached read compared with a fresh
 * uncached execution. A difference is a stale read. It also counts how many cached entries
 * survived each write, so the gain of row granularity is measured, not assumed.
 */

export const CHECKER_SCHEMA = `
  CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
  CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL REFERENCES authors, status text NOT NULL,
                      title text NOT NULL, note text);
  CREATE TABLE post_tags (post_id int NOT NULL, tag text NOT NULL, PRIMARY KEY (post_id, tag));
  CREATE TABLE events (id int NOT NULL, at date NOT NULL, kind text NOT NULL, seq serial, PRIMARY KEY (id, at, seq)) PARTITION BY RANGE (at);
  CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
  CREATE TABLE sentinel (id int PRIMARY KEY, n bigint NOT NULL);
  INSERT INTO sentinel VALUES (1, 0);
`;

/** Tables whose changes the cache must see. */
export const CHECKER_TABLES = [
  "authors",
  "posts",
  "post_tags",
  "events",
  "events_2025",
  "events_2026",
  "sentinel",
];

const AUTHORS = 6;
const POSTS = 40;
const STATUSES = ["draft", "live", "hidden"];
const TAGS = ["a", "b", "c", "d"];

/** A reproducible stream of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ReadShape {
  readonly name: string;
  readonly sql: string;
  readonly params: (random: () => number) => unknown[];
}

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;
const int = (random: () => number, max: number) => 1 + Math.floor(random() * max);

/** The read grammar: each construct of the row-level rules, and the traps around them. */
export const READ_SHAPES: readonly ReadShape[] = [
  { name: "by id", sql: "SELECT * FROM posts WHERE id = $1", params: (r) => [int(r, POSTS + 5)] },
  {
    name: "by foreign key",
    sql: "SELECT id, title FROM posts WHERE author_id = $1 ORDER BY id",
    params: (r) => [int(r, AUTHORS)],
  },
  {
    name: "count by fk",
    sql: "SELECT count(*)::int AS n FROM posts WHERE author_id = $1",
    params: (r) => [int(r, AUTHORS)],
  },
  {
    name: "inner join",
    sql: "SELECT p.id, p.title, a.name FROM posts p JOIN authors a ON a.id = p.author_id WHERE p.id = $1",
    params: (r) => [int(r, POSTS)],
  },
  {
    name: "join by class",
    sql: "SELECT p.id, a.name FROM authors a JOIN posts p ON p.author_id = a.id WHERE a.id = $1 ORDER BY p.id",
    params: (r) => [int(r, AUTHORS)],
  },
  {
    name: "left join",
    sql: "SELECT a.id, a.name, p.id AS post FROM authors a LEFT JOIN posts p ON p.author_id = a.id AND p.status = 'live' WHERE a.id = $1 ORDER BY 3",
    params: (r) => [int(r, AUTHORS)],
  },
  {
    name: "left join ON constant (preserved side unconstrained)",
    sql: "SELECT a.id, p.id AS post FROM authors a LEFT JOIN posts p ON p.author_id = a.id AND p.id = $1 ORDER BY 1, 2",
    params: (r) => [int(r, POSTS)],
  },
  {
    name: "IN list",
    sql: "SELECT * FROM posts WHERE id IN ($1, $2) ORDER BY id",
    params: (r) => [int(r, POSTS), int(r, POSTS)],
  },
  {
    name: "= ANY",
    sql: "SELECT id FROM posts WHERE id = ANY($1) ORDER BY id",
    params: (r) => [[int(r, POSTS), int(r, POSTS), int(r, POSTS)]],
  },
  {
    name: "OR (no constraint)",
    sql: "SELECT id FROM posts WHERE author_id = $1 OR id = $2 ORDER BY id",
    params: (r) => [int(r, AUTHORS), int(r, POSTS)],
  },
  {
    name: "by status",
    sql: "SELECT id FROM posts WHERE status = $1 ORDER BY id",
    params: (r) => [pick(r, STATUSES)],
  },
  {
    name: "distinct by status",
    sql: "SELECT DISTINCT author_id FROM posts WHERE status = $1 ORDER BY 1",
    params: (r) => [pick(r, STATUSES)],
  },
  {
    name: "composite key",
    sql: "SELECT tag FROM post_tags WHERE post_id = $1 ORDER BY tag",
    params: (r) => [int(r, POSTS)],
  },
  { name: "LIMIT over the table", sql: "SELECT id, title FROM posts ORDER BY id LIMIT 3", params: () => [] },
  { name: "nullable column", sql: "SELECT id FROM posts WHERE note IS NULL ORDER BY id", params: () => [] },
  {
    name: "cast on the column",
    sql: "SELECT id, title FROM posts WHERE id::text = $1",
    params: (r) => [String(int(r, POSTS))],
  },
  {
    name: "partitioned",
    sql: "SELECT count(*)::int AS n FROM events WHERE id = $1",
    params: (r) => [int(r, 10)],
  },
  {
    name: "correlated subquery",
    sql: "SELECT a.name, (SELECT count(*)::int FROM posts p WHERE p.author_id = a.id) AS n FROM authors a WHERE a.id = $1",
    params: (r) => [int(r, AUTHORS)],
  },
  {
    name: "exists subquery",
    sql: "SELECT id FROM posts p WHERE p.author_id = $1 AND EXISTS (SELECT 1 FROM post_tags t WHERE t.post_id = p.id AND t.tag = 'a') ORDER BY id",
    params: (r) => [int(r, AUTHORS)],
  },
];

/** One random write (or transaction) by the external client. */
function randomWrite(random: () => number): { label: string; statements: string[]; rollback?: boolean } {
  const id = int(random, POSTS + 5);
  const other = int(random, POSTS + 5);
  const author = int(random, AUTHORS);
  const status = pick(random, STATUSES);
  const choice = random();
  if (choice < 0.18)
    return {
      label: "update title",
      statements: [`UPDATE posts SET title = 't${Math.floor(random() * 1e6)}' WHERE id = ${id}`],
    };
  if (choice < 0.3)
    return { label: "move fk", statements: [`UPDATE posts SET author_id = ${author} WHERE id = ${id}`] };
  if (choice < 0.38)
    return {
      label: "status",
      statements: [`UPDATE posts SET status = '${status}' WHERE author_id = ${author}`],
    };
  if (choice < 0.43) {
    return {
      label: "key change",
      statements: [`UPDATE posts SET id = ${POSTS + 100 + Math.floor(random() * 1000)} WHERE id = ${id}`],
    };
  }
  if (choice < 0.5) {
    return {
      label: "insert",
      statements: [
        `INSERT INTO posts VALUES (${id}, ${author}, '${status}', 'new', NULL) ON CONFLICT (id) DO UPDATE SET note = NULL`,
      ],
    };
  }
  if (choice < 0.56)
    return {
      label: "delete",
      statements: [`DELETE FROM post_tags WHERE post_id = ${id}`, `DELETE FROM posts WHERE id = ${id}`],
    };
  if (choice < 0.62)
    return {
      label: "note",
      statements: [`UPDATE posts SET note = ${random() < 0.5 ? "NULL" : "'x'"} WHERE id = ${id}`],
    };
  if (choice < 0.68) {
    return {
      label: "tag",
      statements: [
        `INSERT INTO post_tags SELECT id, '${pick(random, TAGS)}' FROM posts WHERE id = ${id} ON CONFLICT DO NOTHING`,
      ],
    };
  }
  if (choice < 0.72)
    return {
      label: "untag",
      statements: [`DELETE FROM post_tags WHERE post_id = ${id} AND tag = '${pick(random, TAGS)}'`],
    };
  if (choice < 0.76)
    return {
      label: "rename author",
      statements: [`UPDATE authors SET name = 'n${Math.floor(random() * 1e6)}' WHERE id = ${author}`],
    };
  if (choice < 0.81) {
    return {
      label: "event",
      statements: [
        `INSERT INTO events (id, at, kind) VALUES (${int(random, 10)}, '${random() < 0.5 ? "2025" : "2026"}-06-01', 'k')`,
      ],
    };
  }
  if (choice < 0.83)
    return { label: "delete events", statements: [`DELETE FROM events WHERE id = ${int(random, 10)}`] };
  if (choice < 0.85) return { label: "truncate tags", statements: ["TRUNCATE post_tags"] };
  if (choice < 0.93) {
    return {
      label: "transaction",
      statements: [
        `UPDATE posts SET title = 'tx' WHERE id = ${id}`,
        `UPDATE posts SET author_id = ${author} WHERE id = ${other}`,
        `INSERT INTO post_tags SELECT id, 'b' FROM posts WHERE id = ${other} ON CONFLICT DO NOTHING`,
      ],
    };
  }
  return {
    label: "rolled back",
    statements: [`UPDATE posts SET title = 'never' WHERE id = ${id}`],
    rollback: true,
  };
}

export async function seedCheckerData(client: pg.Client): Promise<void> {
  const values: string[] = [];
  for (let a = 1; a <= AUTHORS; a++) values.push(`(${a}, 'author ${a}')`);
  await client.query(`INSERT INTO authors VALUES ${values.join(",")}`);
  const posts: string[] = [];
  for (let p = 1; p <= POSTS; p++) {
    posts.push(
      `(${p}, ${1 + (p % AUTHORS)}, '${STATUSES[p % 3]}', 'title ${p}', ${p % 4 === 0 ? "NULL" : "'n'"})`,
    );
  }
  await client.query(`INSERT INTO posts VALUES ${posts.join(",")}`);
  await client.query("INSERT INTO post_tags SELECT id, 'a' FROM posts WHERE id % 3 = 0");
  await client.query(
    "INSERT INTO events (id, at, kind) SELECT g, '2025-03-01', 'k' FROM generate_series(1, 10) g",
  );
}

export interface CheckerReport {
  readonly writes: number;
  readonly readsChecked: number;
  readonly stale: number;
  readonly staleExamples: string[];
  /** Cached entries before each write, and how many of them were still cached after its event. */
  readonly survivedPerWrite: { before: number; after: number }[];
  readonly hits: number;
}

export interface CheckerOptions {
  readonly watch: CacheWatch;
  readonly pool: pg.Pool;
  readonly writer: pg.Client;
  /** Where the fresh, uncached executions run. */
  readonly url: string;
  readonly seed: number;
  readonly writes: number;
  /** Reads cached (and then checked) between two writes. */
  readonly readsPerRound: number;
}

/** Run the checker; never throws for a stale read (it is counted and reported). */
export async function runRowChecker(options: CheckerOptions): Promise<CheckerReport> {
  const { watch, pool, writer } = options;
  const random = seededRandom(options.seed);
  const fresh = new pg.Client({ connectionString: options.url });
  await fresh.connect();
  let sentinel = 0;
  const readsChecked = { n: 0 };
  const staleExamples: string[] = [];
  let stale = 0;
  const survivedPerWrite: { before: number; after: number }[] = [];
  const tracked = new Map<string, { shape: ReadShape; params: unknown[] }>();
  const hitsAtStart = watch.stats().hits;

  /** Wait until every event of what committed so far was applied: the sentinel's comes after them. */
  const settle = async () => {
    sentinel++;
    const target = sentinel;
    const applied = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        watch.off("change", onChange);
        reject(new Error(`the sentinel event ${target} did not arrive within 10 s`));
      }, 10_000);
      const onChange = (event: ChangeEvent) => {
        if (event.table !== "sentinel") return;
        clearTimeout(timer);
        watch.off("change", onChange);
        resolve();
      };
      watch.on("change", onChange);
    });
    await writer.query("UPDATE sentinel SET n = $1 WHERE id = 1", [target]);
    await applied;
    // The WAL source re-invalidates after its visibility delay: let that pass too.
    await new Promise((resolve) => setTimeout(resolve, 5));
  };

  const check = async () => {
    for (const { shape, params } of tracked.values()) {
      const cached = await watch.query(pool, shape.sql, params);
      const truth = await fresh.query(shape.sql, params);
      readsChecked.n++;
      if (JSON.stringify(cached.rows) !== JSON.stringify(truth.rows)) {
        stale++;
        if (staleExamples.length < 5) {
          staleExamples.push(
            `${shape.name} ${JSON.stringify(params)}: cached ${JSON.stringify(cached.rows)} fresh ${JSON.stringify(truth.rows)}`,
          );
        }
      }
    }
  };

  for (let round = 0; round < options.writes; round++) {
    for (let i = 0; i < options.readsPerRound; i++) {
      const shape = READ_SHAPES[Math.floor(random() * READ_SHAPES.length)] as ReadShape;
      const params = shape.params(random);
      tracked.set(`${shape.name}|${JSON.stringify(params)}`, { shape, params });
      await watch.query(pool, shape.sql, params);
    }
    await settle();
    // Filled and settled: what is cached now is what the write may or may not drop.
    const before = watch.stats().entries;
    const write = randomWrite(random);
    if (write.statements.length === 1 && !write.rollback) {
      await writer.query(write.statements[0] as string);
    } else {
      await writer.query("BEGIN");
      for (const statement of write.statements) await writer.query(statement);
      await writer.query(write.rollback ? "ROLLBACK" : "COMMIT");
    }
    await settle();
    // The sentinel's own event dropped nothing cached (no read touches it).
    survivedPerWrite.push({ before, after: watch.stats().entries });
    await check();
  }
  await fresh.end();
  return {
    writes: options.writes,
    readsChecked: readsChecked.n,
    stale,
    staleExamples,
    survivedPerWrite,
    hits: watch.stats().hits - hitsAtStart,
  };
}

/** Entries that survived writes, summed: the measure of row granularity. */
export function survival(report: CheckerReport): { before: number; after: number; ratio: number } {
  let before = 0;
  let after = 0;
  for (const s of report.survivedPerWrite) {
    before += s.before;
    after += Math.min(s.after, s.before);
  }
  return { before, after, ratio: before === 0 ? 0 : after / before };
}
