import type { TableRef } from "../events/table-name.js";
import { type TriggerClient, withConnection } from "./client.js";
import { listTables } from "./resolve-tables.js";

/**
 * Every ordinary and partitioned table in `schemas` that is not itself a partition (partitions are
 * covered through their parent): what `pgcachewatch install --all-tables` watches.
 */
export function listWatchableTables(client: TriggerClient, schemas: readonly string[]): Promise<TableRef[]> {
  return withConnection(client, (connection) => listTables(connection, schemas));
}
