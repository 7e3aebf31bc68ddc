import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CacheWatch, createCacheWatch } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { nextEvent } from "./support/wait.js";

// Two pools whose sessions have different search_paths, and same-named tables a.items / b.items:
// the same SQL text reads different tables, so it must give different entries, each dropped by a
// write to its own table. Nobody tells the engine the search_path: it is read from the session.

const db = useTestDatabase("boundaries_search_path");
let watch: CacheWatch;
let writer: pg.Client;
let inA: pg.Pool;
let inB: pg.Pool;

const ITEMS = "SELECT id, label FROM items ORDER BY id";

beforeAll(async () => {
  writer = await db.externalWriter();
  await writer.query(`
    CREATE SCHEMA a;
    CREATE SCHEMA b;
    CREATE TABLE a.items (id int PRIMARY KEY, label text NOT NULL);
    CREATE TABLE b.items (id int PRIMARY KEY, label text NOT NULL);
    INSERT INTO a.items VALUES (1, 'in schema a');
    INSERT INTO b.items VALUES (1, 'in schema b');
  `);
  await createTestTrigger(writer, "items", "pgcachewatch", "a");
  await createTestTrigger(writer, "items", "pgcachewatch", "b");
  inA = new pg.Pool({ connectionString: db.url, options: "-c search_path=a", max: 2 });
  inB = new pg.Pool({ connectionString: db.url, options: "-c search_path=b", max: 2 });
  watch = createCacheWatch({ connectionString: db.url });
  await watch.start();
});

afterAll(async () => {
  await watch?.stop();
  await inA?.end();
  await inB?.end();
});

const items = async (pool: pg.Pool) => (await watch.query(pool, ITEMS)).rows;
const changeOf = (table: string) =>
  nextEvent(watch, "invalidate", (info) => info.reason === "change" && info.tables.includes(table));

describe("two pools with different search_path, the same SQL text", () => {
  it("gives different entries, each invalidated by a write to its own table only", async () => {
    const before = watch.stats();
    expect(await items(inA)).toEqual([{ id: 1, label: "in schema a" }]);
    expect(await items(inB)).toEqual([{ id: 1, label: "in schema b" }]);
    expect(await items(inA)).toEqual([{ id: 1, label: "in schema a" }]);
    expect(await items(inB)).toEqual([{ id: 1, label: "in schema b" }]);
    expect(watch.stats().loads).toBe(before.loads + 2);
    expect(watch.stats().hits).toBe(before.hits + 2);

    const changedA = changeOf("a.items");
    await writer.query("UPDATE a.items SET label = 'changed in a'");
    await changedA;
    expect(await items(inB)).toEqual([{ id: 1, label: "in schema b" }]);
    expect(watch.stats().hits).toBe(before.hits + 3);
    expect(await items(inA)).toEqual([{ id: 1, label: "changed in a" }]);

    const changedB = changeOf("b.items");
    await writer.query("UPDATE b.items SET label = 'changed in b'");
    await changedB;
    expect(await items(inB)).toEqual([{ id: 1, label: "changed in b" }]);
    expect(await items(inA)).toEqual([{ id: 1, label: "changed in a" }]);
    expect(watch.stats().loads).toBe(before.loads + 4);
  });
});
