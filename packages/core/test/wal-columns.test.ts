import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChangeEvent, createCacheWatch } from "../src/index.js";
import { createWalSource } from "../src/sources/wal/index.js";
import { announceWalAvailability, checkWalAvailability, type WalAvailability } from "./wal-support.js";

const db = useTestDatabase("wal_columns");
let wal: WalAvailability = { ok: false, reason: "not checked" };

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "wal-columns.test.ts");
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL, status text NOT NULL, body text);
    CREATE TABLE audit (id int PRIMARY KEY, author_id int NOT NULL);
    ALTER TABLE audit REPLICA IDENTITY FULL;
    INSERT INTO posts VALUES (1, 10, 'draft', 'a'), (2, 10, 'draft', 'b'), (3, 20, 'live', 'c');
    INSERT INTO audit VALUES (1, 10), (2, 20);
  `);
});

const watches: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const watch of watches) await watch.stop();
});

/** The events one committed statement produces, once they arrived. */
async function eventsOf(watch: ReturnType<typeof createCacheWatch>, sql: string): Promise<ChangeEvent[]> {
  const events: ChangeEvent[] = [];
  const onChange = (event: ChangeEvent) => events.push(event);
  watch.on("change", onChange);
  const writer = await db.externalWriter();
  await writer.query(sql);
  await writer.query("SELECT pg_logical_emit_message(false, 'pgcw-test', 'sync')");
  const deadline = Date.now() + 5000;
  while (events.length === 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 100));
  watch.off("change", onChange);
  return events;
}

const sorted = (columns: ChangeEvent["columns"]): Record<string, string[]> | undefined => {
  if (columns === undefined) return undefined;
  const out: Record<string, string[]> = {};
  for (const name of Object.keys(columns).sort()) out[name] = [...(columns[name] ?? [])].sort();
  return out;
};

describe("WAL events carry old and new column values for row-level invalidation", () => {
  it("insert: every column of the new rows; update without a key change: the key only (old values of other columns are not sent); delete: the key; FULL identity: every column; truncate: the whole table", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const source = createWalSource({
      connectionString: db.url,
      tables: ["posts", "audit"],
      publication: "pgcw_columns_pub",
      heartbeatInterval: 500,
      visibilityDelay: 0,
    });
    const watch = createCacheWatch({ connectionString: db.url, source });
    watches.push(watch);
    await watch.start();

    const [insert] = await eventsOf(watch, "INSERT INTO posts VALUES (4, 30, 'draft', NULL)");
    expect(sorted(insert?.columns)).toEqual({ author_id: ["30"], id: ["4"], status: ["draft"] });

    const [update] = await eventsOf(watch, "UPDATE posts SET status = 'live' WHERE author_id = 10");
    expect(sorted(update?.columns)).toEqual({ id: ["1", "2"] });

    const [keyMove] = await eventsOf(watch, "UPDATE posts SET id = 5 WHERE id = 4");
    expect(sorted(keyMove?.columns)).toEqual({ id: ["4", "5"] });

    const [remove] = await eventsOf(watch, "DELETE FROM posts WHERE id = 3");
    expect(sorted(remove?.columns)).toEqual({ id: ["3"] });

    const [full] = await eventsOf(watch, "UPDATE audit SET author_id = 30 WHERE id = 1");
    expect(sorted(full?.columns)).toEqual({ author_id: ["10", "30"], id: ["1"] });

    const [truncate] = await eventsOf(watch, "TRUNCATE audit");
    expect(truncate?.operation).toBe("truncate");
    expect(truncate?.columns).toBeUndefined();
  });
});
