import { quoteIdentifier } from "@pgcachewatch/core/adapter";
import pg from "pg";
import { sleep } from "./sleep.js";
import { MARKER_SCHEMA, MARKER_TABLE, type StalenessChecker } from "./staleness-checker.js";
import { qualified, quoteLiteral, type WorkloadTable } from "./workload-schema.js";

export interface WritersOptions {
  url: string;
  target: WorkloadTable;
  channel: string;
  rowCount: number;
  writers: number;
  /** Pause between one writer's writes: uniform in [0, maxPauseMs]. */
  maxPauseMs: number;
  checker: StalenessChecker;
}

export interface RunningWriters {
  stop(): Promise<void>;
}

/**
 * Writers on raw `pg` connections (never through the engine): each write bumps one row's version
 * and sends the row's marker in the same transaction (see the checker for why), and reports the
 * new version when the COMMIT returned. A failed write is counted and its connection replaced.
 */
export function startWriters(options: WritersOptions): RunningWriters {
  let stopped = false;
  const loops = Array.from({ length: options.writers }, () => writerLoop(options, () => stopped));
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

export function writeSql(target: WorkloadTable, channel: string, id: number): string {
  const table = qualified(target);
  const marker = `json_build_object('v', 1, 's', ${quoteLiteral(MARKER_SCHEMA)}, 't', id || ':' || version, 'op', 'update')::text`;
  return `BEGIN;
UPDATE ${table} SET version = version + 1 WHERE id = ${id};
SELECT version::int AS version, pg_notify(${quoteLiteral(channel)}, ${marker}) FROM ${table} WHERE id = ${id};
INSERT INTO ${quoteIdentifier(MARKER_SCHEMA)}.${quoteIdentifier(MARKER_TABLE)} SELECT id || ':' || version FROM ${table} WHERE id = ${id};
COMMIT`;
}

/** One write through `client`; returns the row's new version once the COMMIT returned. */
export async function writeOnce(
  client: pg.Client,
  target: WorkloadTable,
  channel: string,
  id: number,
): Promise<number> {
  const results = (await client.query(writeSql(target, channel, id))) as unknown as pg.QueryResult[];
  const version = (results[2]?.rows[0] as { version?: number } | undefined)?.version;
  if (typeof version !== "number") throw new Error(`write of row ${id} returned no version`);
  return version;
}

async function writerLoop(options: WritersOptions, stopped: () => boolean): Promise<void> {
  const { url, target, channel, rowCount, maxPauseMs, checker } = options;
  let client: pg.Client | undefined;
  let failures = 0;
  while (!stopped()) {
    try {
      if (client === undefined) {
        const fresh = new pg.Client({ connectionString: url, application_name: "pgcw-chaos-writer" });
        fresh.on("error", () => {});
        client = fresh;
        await fresh.connect();
      }
      const id = 1 + Math.floor(Math.random() * rowCount);
      const version = await writeOnce(client, target, channel, id);
      checker.committed(id, version);
      failures = 0;
    } catch {
      checker.writeFailed();
      const broken = client;
      client = undefined;
      void broken?.end().catch(() => {});
      failures++;
      await sleep(Math.min(1000, 20 * 2 ** Math.min(failures, 6)));
      continue;
    }
    await sleep(Math.random() * maxPauseMs);
  }
  await client?.end().catch(() => {});
}
