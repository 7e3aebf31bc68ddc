import { cpus, loadavg, totalmem } from "node:os";
import { installTriggers } from "@pgcachewatch/core/triggers";
import {
  createTestDatabase,
  type EmbeddedServer,
  startEmbeddedServer,
  type TestDatabase,
} from "@pgcachewatch/testdb";
import pg from "pg";

/**
 * The embedded server runs with durable commits (the test harness turns fsync off for speed): the
 * NOTIFY commit cost and the write-path figures only mean something when a commit waits for its flush.
 */
export const BENCH_SERVER_SETTINGS: Record<string, string | number> = {
  fsync: "on",
  full_page_writes: "on",
  synchronous_commit: "on",
  shared_buffers: "128MB",
  max_wal_size: "1GB",
};

/** Settings reported next to the figures. */
const REPORTED_SETTINGS = [
  "server_version",
  "fsync",
  "synchronous_commit",
  "full_page_writes",
  "wal_level",
  "wal_sync_method",
  "shared_buffers",
  "max_wal_size",
  "max_connections",
];

export interface BenchEnvironment {
  /** URL of the benchmark's own database. */
  url: string;
  /** Where the server came from, for the report. */
  serverKind: "embedded" | "DATABASE_URL";
  settings: Record<string, string>;
  machine: MachineInfo;
  /** True when the WAL change source is available in core and the server has wal_level=logical. */
  walAvailable: boolean;
  close(): Promise<void>;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memory: string;
  node: string;
  loadAtStart: string;
}

export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? "unknown",
    cores: cpuList.length,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    loadAtStart: loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
  };
}

export async function openEnvironment(): Promise<BenchEnvironment> {
  let server: EmbeddedServer | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    server = await startEmbeddedServer({ settings: BENCH_SERVER_SETTINGS });
    adminUrl = server.adminUrl;
  }
  let database: TestDatabase;
  try {
    database = await createTestDatabase(adminUrl, "bench");
  } catch (error) {
    await server?.stop();
    throw error;
  }
  const settings: Record<string, string> = {};
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string; unit: string | null }>(
      "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)",
      [REPORTED_SETTINGS],
    );
    for (const row of rows) settings[row.name] = formatSetting(row.setting, row.unit);
  } finally {
    await client.end();
  }
  return {
    url: database.url,
    serverKind: server ? "embedded" : "DATABASE_URL",
    settings,
    machine: machineInfo(),
    walAvailable: settings.wal_level === "logical",
    async close() {
      try {
        await database.drop();
      } finally {
        await server?.stop();
      }
    },
  };
}

function formatSetting(setting: string, unit: string | null): string {
  if (unit === "8kB") return `${(Number(setting) * 8) / 1024}MB`;
  if (unit === "MB") return `${setting}MB`;
  return unit ? `${setting}${unit}` : setting;
}

/** Our statement-level change triggers on `tables`, installed by core exactly as an app would. */
export async function installStatementTriggers(
  client: pg.ClientBase,
  tables: string[],
  channel = "pgcachewatch",
): Promise<void> {
  await installTriggers(client, { tables, channel });
}

/**
 * The common naive design: a row-level trigger that notifies once per row with the row's id (so
 * PostgreSQL cannot fold the notifications of a multi-row statement).
 */
export async function installRowTriggers(
  client: pg.ClientBase,
  table: string,
  channel: string,
): Promise<void> {
  await client.query(`
    CREATE OR REPLACE FUNCTION public.bench_notify_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM pg_notify(TG_ARGV[0], json_build_object('t',TG_TABLE_NAME,'op',lower(TG_OP),
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
      RETURN NULL;
    END $fn$`);
  const quoted = pg.escapeIdentifier(table);
  await client.query(
    `CREATE TRIGGER bench_notify_row AFTER INSERT OR UPDATE OR DELETE ON ${quoted}
     FOR EACH ROW EXECUTE FUNCTION public.bench_notify_row(${pg.escapeLiteral(channel)})`,
  );
}

/** Remove every user trigger from `table` (whoever installed it). */
export async function dropTriggers(client: pg.ClientBase, table: string): Promise<void> {
  const { rows } = await client.query<{ tgname: string }>(
    "SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal",
    [pg.escapeIdentifier(table)],
  );
  for (const row of rows) {
    await client.query(`DROP TRIGGER ${pg.escapeIdentifier(row.tgname)} ON ${pg.escapeIdentifier(table)}`);
  }
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}
