import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { asc, eq, inArray } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { pgCacheWatchCache } from "../src/index.js";

// No change source: every refresh these tests see comes from the write through Drizzle itself.
const fixture = useTestDatabase("drizzle-rows-ryw");

const authors = pgTable("authors", { id: integer("id").primaryKey(), name: text("name").notNull() });
const articles = pgTable("articles", {
  id: integer("id").primaryKey(),
  authorId: integer("author_id").notNull(),
  title: text("title").notNull(),
});
const notes = pgTable("notes", {
  id: integer("id").primaryKey(),
  articleId: integer("article_id").notNull(),
  body: text("body").notNull(),
});
const schema = { authors, articles, notes };

const SETUP = `
  DROP TABLE IF EXISTS notes, articles, authors;
  CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
  CREATE TABLE articles (id int PRIMARY KEY, author_id int NOT NULL REFERENCES authors, title text NOT NULL);
  CREATE TABLE notes (id int PRIMARY KEY, article_id int NOT NULL REFERENCES articles ON DELETE CASCADE,
                      body text NOT NULL);
  INSERT INTO authors VALUES (1, 'ada'), (2, 'grace'), (3, 'edsger');
  INSERT INTO articles SELECT i, 1 + i % 2, 'article ' || i FROM generate_series(1, 8) i;
  INSERT INTO notes VALUES (1, 5, 'on five'), (2, 7, 'on seven');
`;

let pool: pg.Pool;
let writer: pg.Client;
let watch: CacheWatch;
let db: NodePgDatabase<typeof schema>;

beforeAll(async () => {
  writer = new pg.Client({ connectionString: fixture.url });
  await writer.connect();
  pool = new pg.Pool({ connectionString: fixture.url, max: 4 });
  watch = createCacheWatch({ connectionString: fixture.url, source: "none" });
  await watch.start();
  db = drizzle({ client: pool, schema, cache: pgCacheWatchCache(watch) });
});
afterAll(async () => {
  await watch?.stop();
  await pool?.end();
  await writer?.end();
});
beforeEach(async () => {
  await writer.query(SETUP);
  watch.invalidateAll();
  watch.analyzer.invalidateCatalog();
});

const title = (id: number) => db.select({ title: articles.title }).from(articles).where(eq(articles.id, id));
const byAuthor = (author: number) =>
  db
    .select({ id: articles.id })
    .from(articles)
    .where(eq(articles.authorId, author))
    .orderBy(asc(articles.id));
const all = () =>
  db.select({ id: articles.id, title: articles.title }).from(articles).orderBy(asc(articles.id));
const notesOf = (article: number) =>
  db.select({ body: notes.body }).from(notes).where(eq(notes.articleId, article)).orderBy(asc(notes.id));

interface Cachable<T> {
  $cached(): Promise<T>;
}

/** A cached read, and whether it was a hit. */
async function read<T>(query: Cachable<T>): Promise<{ hit: boolean; rows: T }> {
  const before = watch.stats().hits;
  const rows = await query.$cached();
  return { hit: watch.stats().hits === before + 1, rows };
}

async function warm(...queries: Cachable<unknown>[]): Promise<void> {
  for (const query of queries) await query.$cached();
  for (const query of queries) expect((await read(query)).hit).toBe(true);
}

describe("Drizzle writes drop the rows they name", () => {
  test("update of row 7: row 5 is still a hit, row 7 and the whole-table read are fresh", async () => {
    await warm(title(5), title(7), all());
    await db.update(articles).set({ title: "seven!" }).where(eq(articles.id, 7));
    expect(await read(title(5))).toEqual({ hit: true, rows: [{ title: "article 5" }] });
    expect(await read(title(7))).toEqual({ hit: false, rows: [{ title: "seven!" }] });
    const whole = await read(all());
    expect(whole.hit).toBe(false);
    expect(whole.rows.find((row) => row.id === 7)?.title).toBe("seven!");
  });

  test("update with .returning() of the author: only that author's read drops", async () => {
    await warm(byAuthor(1), byAuthor(2));
    // Article 7 is author 2's.
    await db
      .update(articles)
      .set({ title: "x" })
      .where(eq(articles.id, 7))
      .returning({ a: articles.authorId });
    expect((await read(byAuthor(1))).hit).toBe(true);
    expect((await read(byAuthor(2))).hit).toBe(false);
  });

  test("a key-moving update: reads by author read fresh", async () => {
    await warm(title(5), byAuthor(2), byAuthor(3));
    await db.update(articles).set({ authorId: 3 }).where(eq(articles.id, 7));
    expect((await read(byAuthor(2))).rows.map((r) => r.id)).toEqual([1, 3, 5]);
    expect((await read(byAuthor(3))).rows.map((r) => r.id)).toEqual([7]);
    expect((await read(title(5))).hit).toBe(true);
  });

  test("delete with inArray, and the cascaded child's cached reads", async () => {
    await warm(title(5), title(7), notesOf(7), notesOf(5));
    await db.delete(articles).where(inArray(articles.id, [7, 8]));
    expect((await read(title(5))).hit).toBe(true);
    expect(await read(title(7))).toEqual({ hit: false, rows: [] });
    expect((await read(notesOf(7))).rows).toEqual([]);
    expect((await read(notesOf(5))).rows).toEqual([{ body: "on five" }]);
  });

  test("insert, with and without returning", async () => {
    await warm(title(5), title(9), title(10), byAuthor(1));
    await db.insert(articles).values({ id: 9, authorId: 3, title: "nine" });
    expect(await read(title(9))).toEqual({ hit: false, rows: [{ title: "nine" }] });
    expect((await read(title(5))).hit).toBe(true);
    expect((await read(byAuthor(1))).hit).toBe(true);
    await db.insert(articles).values({ id: 10, authorId: 1, title: "ten" }).returning();
    expect(await read(title(10))).toEqual({ hit: false, rows: [{ title: "ten" }] });
    expect((await read(byAuthor(1))).rows.map((r) => r.id)).toEqual([2, 4, 6, 8, 10]);
  });

  test("a write in db.transaction(): dropped at commit, the other rows stay", async () => {
    await warm(title(5), title(7));
    await db.transaction(async (tx) => {
      await tx.update(articles).set({ title: "in tx" }).where(eq(articles.id, 7));
      // Not committed yet: the committed value is still cached and still right.
      expect(await read(title(7))).toEqual({ hit: true, rows: [{ title: "article 7" }] });
    });
    expect(await read(title(7))).toEqual({ hit: false, rows: [{ title: "in tx" }] });
    expect((await read(title(5))).hit).toBe(true);
  });
});
