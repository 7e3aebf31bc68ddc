import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installDdlEventTrigger } from "../src/analysis/index.js";
import { type CacheWatch, createCacheWatch } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { nextEvent } from "./support/wait.js";

const db = useTestDatabase("schema_change");
let watch: CacheWatch;
let pool: pg.Pool;
let writer: pg.Client;

beforeAll(async () => {
  writer = await db.externalWriter();
  await writer.query(`
    CREATE TABLE a (id int PRIMARY KEY, label text NOT NULL);
    CREATE TABLE b (id int PRIMARY KEY, label text NOT NULL);
    INSERT INTO a VALUES (1, 'from a');
    INSERT INTO b VALUES (1, 'from b');
    CREATE VIEW v AS SELECT id, label FROM a;
  `);
  for (const table of ["a", "b"]) await createTestTrigger(writer, table);
  await installDdlEventTrigger(writer, "pgcachewatch");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  watch = createCacheWatch({ connectionString: db.url, heartbeatInterval: 1000 });
  await watch.start();
});

afterAll(async () => {
  await watch?.stop();
  await pool?.end();
});

describe("schema changes announced by the DDL event trigger", () => {
  it("a view redefined by another client: the entry is dropped and the new definition's tables are watched", async () => {
    const read = async () => (await watch.query<{ label: string }>(pool, "SELECT label FROM v")).rows;
    expect(await read()).toEqual([{ label: "from a" }]);
    expect(await read()).toEqual([{ label: "from a" }]);
    expect(watch.stats().hits).toBe(1);
    const flushed = nextEvent(watch, "invalidate", (info) => info.reason === "schema");
    await writer.query("CREATE OR REPLACE VIEW v AS SELECT id, label FROM b");
    await flushed;
    expect(await read()).toEqual([{ label: "from b" }]);
    // Now it depends on b: a write to b drops it, one to a does not.
    await read();
    const hits = watch.stats().hits;
    const droppedA = nextEvent(watch, "invalidate", (info) => info.tables.includes("public.a"));
    await writer.query("UPDATE a SET label = 'a2'");
    await droppedA;
    expect(await read()).toEqual([{ label: "from b" }]);
    expect(watch.stats().hits).toBe(hits + 1);
    const droppedB = nextEvent(watch, "invalidate", (info) => info.tables.includes("public.b"));
    await writer.query("UPDATE b SET label = 'b2'");
    await droppedB;
    expect(await read()).toEqual([{ label: "b2" }]);
  });
});
