import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createWalSource, type WalSource, type WalSourceOptions } from "../src/sources/wal/index.js";
import {
  announceWalAvailability,
  checkWalAvailability,
  RecordingHandlers,
  type WalAvailability,
} from "./wal-support.js";

const db = useTestDatabase("wal_source");
let wal: WalAvailability = { ok: false, reason: "not checked" };
const sources: WalSource[] = [];

beforeAll(async () => {
  wal = await checkWalAvailability(db.url);
  announceWalAvailability(wal, "wal-source.test.ts");
  if (!wal.ok) return;
  const setup = await db.externalWriter();
  await setup.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE orders (id bigint PRIMARY KEY, item_id int, qty int);
    CREATE TABLE "Mixed Case" (k text PRIMARY KEY);
    CREATE TABLE unwatched (id int PRIMARY KEY);
  `);
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

async function startSource(
  options: Partial<WalSourceOptions> = {},
): Promise<{ source: WalSource; handlers: RecordingHandlers }> {
  const source = createWalSource({
    connectionString: db.url,
    tables: ["items", "orders", { table: "Mixed Case" }],
    publication: "pgcw_test_pub",
    heartbeatInterval: 500,
    heartbeatTimeout: 5000,
    reconnectDelay: { min: 50, max: 500 },
    ...options,
  });
  sources.push(source);
  const handlers = new RecordingHandlers();
  await source.start(handlers);
  await handlers.until(() => handlers.count("ready") >= 1, "ready");
  return { source, handlers };
}

describe("WAL source", () => {
  it("reports an external writer's insert, update, delete and truncate with primary keys", async (ctx) => {
    if (!wal.ok) return ctx.skip(wal.reason);
    const { handlers } = await startSource();
    const writer = await db.externalWriter();
    await writer.query("INSERT INTO items VALUES (1, 'a'), (2, 'b')");
    await writer.query("UPDATE items SET name = 'c' WHERE id = 2");
    await writer.query("DELETE FROM items WHERE id = 1");
    await writer.query("TRUNCATE items");
    await handlers.until(() => handlers.eventsFor("items", "truncate").length >= 1, "truncate event");
    const [insert] = handlers.eventsFor("items", "insert");
    expect(insert).toMatchObject({ schema: "public", table: "items", keys: [{ id: 1 }, { id: 2 }] });
    expect(insert?.sentAt).toBeTypeOf("number");
    expect(handlers.eventsFor("items", "update")[0]?.keys).toEqual([{ id: 2 }]);
    expect(handlers.eventsFor("items", "delete")[0]?.keys).toEqual([{ id: 1 }]);
    expect(handlers.eventsFor("items", "truncate")[0]?.keys).toBeUndefined();
  });
});
