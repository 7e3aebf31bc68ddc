import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CacheWatch, createCacheWatch } from "../src/index.js";

/**
 * Read-your-writes per row through watch.query. The tables have no triggers and the source
 * delivers no change event: every refresh seen here comes from the write itself.
 */
const db = useTestDatabase("rows_ryw");
let watch: CacheWatch;
let pool: pg.Pool;
let writer: pg.Client;

const SCHEMA = `
  DROP TABLE IF EXISTS comments, posts, users;
  CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
  CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL REFERENCES users, title text NOT NULL);
  CREATE TABLE comments (id int PRIMARY KEY, post_id int NOT NULL REFERENCES posts ON DELETE CASCADE, body text NOT NULL);
  INSERT INTO users VALUES (1, 'ada'), (2, 'grace'), (3, 'edsger');
  INSERT INTO posts SELECT i, 1 + i % 2, 'post ' || i FROM generate_series(1, 8) i;
  INSERT INTO comments VALUES (1, 5, 'on five'), (2, 7, 'on seven'), (3, 7, 'also on seven');
`;

beforeAll(async () => {
  writer = await db.externalWriter();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 1000 });
  await watch.start();
});

afterAll(async () => {
  await watch?.stop();
  await pool?.end();
});

beforeEach(async () => {
  await writer.query(SCHEMA);
  // The schema was recreated under the engine: start from an empty cache and a fresh catalog.
  watch.invalidateAll();
  watch.analyzer.invalidateCatalog();
});

const TITLE = "SELECT title FROM posts WHERE id = $1";
const BY_AUTHOR = "SELECT id FROM posts WHERE author_id = $1 ORDER BY id";
const ALL = "SELECT count(*)::int AS n, string_agg(title, ',' ORDER BY id) AS titles FROM posts";
const COMMENTS = "SELECT body FROM comments WHERE post_id = $1 ORDER BY id";

/** Run a cached read and say whether it was a hit, with its rows. */
async function read(sql: string, params: unknown[] = []): Promise<{ hit: boolean; rows: unknown[] }> {
  const before = watch.stats().hits;
  const result = await watch.query(pool, sql, params);
  return { hit: watch.stats().hits === before + 1, rows: result.rows };
}

async function fresh(sql: string, params: unknown[] = []): Promise<unknown[]> {
  return (await writer.query(sql, params)).rows;
}

/** Fill the cache with each read, and check the second read is a hit. */
async function warm(...reads: [string, unknown[]?][]): Promise<void> {
  for (const [sql, params] of reads) await read(sql, params);
  for (const [sql, params] of reads) expect((await read(sql, params)).hit, sql).toBe(true);
}

describe("a write through watch.query drops the rows it names", () => {
  it("UPDATE of row 7: row 5 stays a hit, row 7 and whole-table reads are fresh at once", async () => {
    await warm([TITLE, [5]], [TITLE, [7]], [ALL], [BY_AUTHOR, [1]]);
    await watch.query(pool, "UPDATE posts SET title = $1 WHERE id = $2", ["seven!", 7]);
    expect(await read(TITLE, [5])).toEqual({ hit: true, rows: [{ title: "post 5" }] });
    expect(await read(TITLE, [7])).toEqual({ hit: false, rows: [{ title: "seven!" }] });
    const all = await read(ALL);
    expect(all.hit).toBe(false);
    expect(all.rows).toEqual(await fresh(ALL));
    // The statement does not say whose post 7 is: reads by author drop column-wide.
    expect((await read(BY_AUTHOR, [1])).hit).toBe(false);
  });

  it("RETURNING of a constrained column names its values: other authors' reads stay", async () => {
    await warm([BY_AUTHOR, [1]], [BY_AUTHOR, [2]]);
    // Post 6 belongs to author 1.
    await watch.query(pool, "UPDATE posts SET title = $1 WHERE id = $2 RETURNING author_id", ["six!", 6]);
    expect((await read(BY_AUTHOR, [2])).hit).toBe(true);
    expect((await read(BY_AUTHOR, [1])).hit).toBe(false);
  });

  it("a key-moving UPDATE drops every read constrained on the moved column, and they read fresh", async () => {
    await warm([TITLE, [5]], [BY_AUTHOR, [1]], [BY_AUTHOR, [2]], [BY_AUTHOR, [3]]);
    // Post 7 moves from author 2 to author 3; the statement does not say it was author 2's.
    await watch.query(pool, "UPDATE posts SET author_id = $1 WHERE id = $2", [3, 7]);
    for (const author of [1, 2, 3]) {
      const got = await read(BY_AUTHOR, [author]);
      expect(got.hit).toBe(false);
      expect(got.rows).toEqual(await fresh(BY_AUTHOR, [author]));
    }
    expect((await read(TITLE, [5])).hit).toBe(true);
    // With the old author in the WHERE, the move names both ends: author 1's read stays.
    await warm([BY_AUTHOR, [1]], [BY_AUTHOR, [2]], [BY_AUTHOR, [3]]);
    await watch.query(pool, "UPDATE posts SET author_id = $1 WHERE id = $2 AND author_id = $3", [2, 7, 3]);
    expect((await read(BY_AUTHOR, [1])).hit).toBe(true);
    for (const author of [2, 3]) {
      const got = await read(BY_AUTHOR, [author]);
      expect(got.hit).toBe(false);
      expect(got.rows).toEqual(await fresh(BY_AUTHOR, [author]));
    }
  });

  it("DELETE ... IN drops those rows, and the cascaded child's reads (ON DELETE CASCADE)", async () => {
    await warm([TITLE, [5]], [TITLE, [7]], [TITLE, [8]], [COMMENTS, [7]], [COMMENTS, [5]]);
    await watch.query(pool, "DELETE FROM posts WHERE id IN ($1, $2)", [7, 8]);
    expect((await read(TITLE, [5])).hit).toBe(true);
    expect(await read(TITLE, [7])).toEqual({ hit: false, rows: [] });
    expect(await read(TITLE, [8])).toEqual({ hit: false, rows: [] });
    // The child's rows went with the parent's: its cached reads are not stale.
    expect(await read(COMMENTS, [7])).toEqual({ hit: false, rows: [] });
    expect((await read(COMMENTS, [5])).rows).toEqual([{ body: "on five" }]);
  });

  it("TRUNCATE ... CASCADE drops the reads of the tables it empties through foreign keys", async () => {
    await warm([COMMENTS, [7]], [TITLE, [5]]);
    await watch.query(pool, "TRUNCATE posts CASCADE");
    expect(await read(COMMENTS, [7])).toEqual({ hit: false, rows: [] });
    expect(await read(TITLE, [5])).toEqual({ hit: false, rows: [] });
  });

  it("DELETE ... = ANY($1) and INSERT with the key given", async () => {
    await warm([TITLE, [5]], [TITLE, [3]], [TITLE, [9]], [BY_AUTHOR, [2]], [BY_AUTHOR, [3]]);
    await watch.query(pool, "DELETE FROM posts WHERE id = ANY($1)", [[3]]);
    expect(await read(TITLE, [3])).toEqual({ hit: false, rows: [] });
    expect((await read(TITLE, [5])).hit).toBe(true);
    // The DELETE does not say whose post 3 was: reads by author were dropped; fill them again.
    expect((await read(BY_AUTHOR, [2])).rows).toEqual(await fresh(BY_AUTHOR, [2]));
    await warm([BY_AUTHOR, [2]], [BY_AUTHOR, [3]]);
    await watch.query(pool, "INSERT INTO posts (id, author_id, title) VALUES ($1, $2, 'nine')", [9, 3]);
    expect(await read(TITLE, [9])).toEqual({ hit: false, rows: [{ title: "nine" }] });
    expect((await read(TITLE, [5])).hit).toBe(true);
    // The new row's author is named: only that author's read drops.
    expect((await read(BY_AUTHOR, [2])).hit).toBe(true);
    expect(await read(BY_AUTHOR, [3])).toEqual({ hit: false, rows: [{ id: 9 }] });
  });

  it("a write in a transaction drops its rows at COMMIT, not before", async () => {
    await warm([TITLE, [5]], [TITLE, [7]]);
    const client = await pool.connect();
    try {
      await watch.query(client, "BEGIN");
      await watch.query(client, "UPDATE posts SET title = $1 WHERE id = $2", ["in tx", 7]);
      // Not committed: the cached (committed) value is still right, and still served.
      expect(await read(TITLE, [7])).toEqual({ hit: true, rows: [{ title: "post 7" }] });
      await watch.query(client, "COMMIT");
    } finally {
      client.release();
    }
    expect(await read(TITLE, [7])).toEqual({ hit: false, rows: [{ title: "in tx" }] });
    expect((await read(TITLE, [5])).hit).toBe(true);
  });

  it("the fill guard at row granularity: a load of row 5 in flight keeps its fill across a write to row 7; one of row 7 is refused", async () => {
    await watch.query(pool, TITLE, [5]);
    watch.invalidateAll();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ran: Promise<void>[] = [];
    const slowRead = (id: number) => {
      let done!: () => void;
      ran.push(new Promise<void>((resolve) => (done = resolve)));
      return watch.load({ key: `slow:${id}` }, async () => {
        const result = await watch.runStatement({ sql: TITLE, params: [id] }, () => pool.query(TITLE, [id]));
        done();
        await gate;
        return result.rows;
      });
    };
    const rejected = watch.stats().fillsRejected;
    const five = slowRead(5);
    const seven = slowRead(7);
    // Both loads have read (the old row 7) before the write.
    await Promise.all(ran);
    await watch.query(pool, "UPDATE posts SET title = $1 WHERE id = $2", ["guarded", 7]);
    release();
    await Promise.all([five, seven]);
    expect(watch.stats().fillsRejected).toBe(rejected + 1);
    const hits = watch.stats().hits;
    await slowRead(5);
    expect(watch.stats().hits).toBe(hits + 1);
    expect(await slowRead(7)).toEqual([{ title: "guarded" }]);
  });
});
