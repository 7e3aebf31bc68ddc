/**
 * Does a publication column list (PostgreSQL 15+) lower the cost of logical decoding when a table
 * has a wide column that every UPDATE rewrites? Side by side on the same WAL: two pgoutput slots
 * created at the same point, one read through a publication of all columns, the other through one
 * of the columns invalidation needs (key and constrained columns). Each slot is read with
 * pg_logical_slot_peek_binary_changes, which runs the walsender's decoding and pgoutput code in
 * the calling backend and leaves the slot where it was, so both are read several times in turn.
 *
 *   pnpm --filter @pgcachewatch/bench exec tsx src/publication-columns.ts [--updates N] [--rounds N]
 *
 * Uses DATABASE_URL when its server has wal_level=logical, otherwise an embedded PostgreSQL.
 */
import { createTestDatabase, startEmbeddedServer } from "@pgcachewatch/testdb";
import pg from "pg";
import { BENCH_SERVER_SETTINGS } from "./environment.js";
import { now, summarize } from "./measure.js";

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index === -1 ? undefined : Number(process.argv[index + 1]);
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

const UPDATES = option("updates", 20_000);
const ROUNDS = option("rounds", 7);
const BODY_BYTES = 2048;

async function logicalUrl(): Promise<{ url: string; stop: () => Promise<void> }> {
  const external = process.env.DATABASE_URL;
  if (external) {
    const probe = new pg.Client({ connectionString: external });
    await probe.connect();
    const { rows } = await probe.query<{ wal_level: string }>("SHOW wal_level");
    await probe.end();
    if (rows[0]?.wal_level === "logical") {
      const database = await createTestDatabase(external, "pubcols");
      return { url: database.url, stop: () => database.drop() };
    }
  }
  const server = await startEmbeddedServer({ settings: { ...BENCH_SERVER_SETTINGS, wal_level: "logical" } });
  const database = await createTestDatabase(server.adminUrl, "pubcols");
  return {
    url: database.url,
    stop: async () => {
      await database.drop();
      await server.stop();
    },
  };
}

interface Read {
  ms: number;
  bytes: number;
  messages: number;
}

async function peek(client: pg.Client, slot: string, publication: string): Promise<Read> {
  const started = now();
  const { rows } = await client.query<{ bytes: string; messages: string }>(
    `SELECT coalesce(sum(length(data)), 0)::text AS bytes, count(*)::text AS messages
       FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)`,
    [slot, publication],
  );
  return {
    ms: now() - started,
    bytes: Number(rows[0]?.bytes ?? 0),
    messages: Number(rows[0]?.messages ?? 0),
  };
}

async function main(): Promise<void> {
  const { url, stop } = await logicalUrl();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string }>("SHOW server_version_num");
    if (Number(rows[0]?.version) < 150000) throw new Error("column lists need PostgreSQL 15 or later");
    await client.query(`
      CREATE TABLE docs (id int PRIMARY KEY, author_id int NOT NULL, status text NOT NULL, body text NOT NULL);
      INSERT INTO docs SELECT g, g % 100, 'draft', repeat(md5(g::text), ${BODY_BYTES / 32}) FROM generate_series(1, 1000) g;
      CREATE PUBLICATION pubcols_all FOR TABLE docs;
      CREATE PUBLICATION pubcols_keys FOR TABLE docs (id, author_id, status);
    `);
    await client.query("SELECT pg_create_logical_replication_slot('pubcols_all', 'pgoutput')");
    await client.query("SELECT pg_create_logical_replication_slot('pubcols_keys', 'pgoutput')");
    // Every UPDATE rewrites the wide column (a new 2 KB value) and a constrained one.
    const batch = 500;
    for (let done = 0; done < UPDATES; done += batch) {
      await client.query(
        `DO $$ BEGIN FOR i IN ${done + 1}..${done + batch} LOOP
           UPDATE docs SET body = repeat(md5((i * 7919)::text), ${BODY_BYTES / 32}), status = CASE WHEN i % 2 = 0 THEN 'live' ELSE 'draft' END
            WHERE id = 1 + i % 1000;
           COMMIT;
         END LOOP; END $$`,
      );
    }
    const reads: Record<"all" | "keys", Read[]> = { all: [], keys: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so drift on a shared machine hits both alike.
      const order: ("all" | "keys")[] = round % 2 === 0 ? ["all", "keys"] : ["keys", "all"];
      for (const which of order)
        reads[which].push(await peek(client, `pubcols_${which}`, `pubcols_${which}`));
    }
    const row = (which: "all" | "keys") => {
      const samples = reads[which].map((r) => r.ms);
      const last = reads[which][reads[which].length - 1];
      return {
        times: { p50: summarize(samples).p50, min: Math.min(...samples) },
        bytes: last?.bytes ?? 0,
        messages: last?.messages ?? 0,
      };
    };
    const all = row("all");
    const keys = row("keys");
    process.stdout.write(
      `${UPDATES} single-row UPDATEs (one transaction each) of a table with a ${BODY_BYTES}-byte text column, ` +
        `decoded ${ROUNDS} times per publication (median)\n\n` +
        "| publication | decode p50 | decode min | output bytes | messages | p50 vs all columns |\n" +
        "| --- | --- | --- | --- | --- | --- |\n" +
        `| all columns | ${all.times.p50.toFixed(0)} ms | ${all.times.min.toFixed(0)} ms | ${all.bytes} | ${all.messages} | 1.00x |\n` +
        `| column list (id, author_id, status) | ${keys.times.p50.toFixed(0)} ms | ${keys.times.min.toFixed(0)} ms | ${keys.bytes} | ${keys.messages} | ${(keys.times.p50 / all.times.p50).toFixed(2)}x |\n`,
    );
  } finally {
    await client
      .query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'pubcols_%'",
      )
      .catch(() => {});
    await client.end();
    await stop();
  }
}

await main();
