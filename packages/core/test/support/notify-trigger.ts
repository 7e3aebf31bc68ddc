import type pg from "pg";
import { installTriggers } from "../../src/triggers/index.js";

/** Watch a table with the product's own trigger installer. */
export async function createTestTrigger(
  client: pg.Client,
  table: string,
  channel = "pgcachewatch",
  schema = "public",
): Promise<void> {
  await installTriggers(client, { tables: [{ schema, table }], channel });
}
