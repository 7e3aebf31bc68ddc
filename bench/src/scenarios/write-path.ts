import { createCacheWatch } from "@pgcachewatch/core";
import { INSTALL_REVISION } from "@pgcachewatch/core/triggers";
import pg from "pg";
import { connect, dropTriggers, installRowTriggers, installStatementTriggers } from "../environment.js";
import { int, ms, pct } from "../format.js";
import { type Distribution, now, sleep, summarize } from "../measure.js";
import { type SectionResult, section } from "../result.js";
import { sourceVariants } from "../sources.js";
import type { ScenarioContext } from "./context.js";

const ACCOUNTS = 100_000;
const ROW_CHANNEL = "bench_row_changes";
const REVISION_1 = "revision 1: one statement trigger, table-wide, unsigned";
const REVISION_2 = "revision 2 layout: one statement trigger, table-wide, signed (current function)";
const REVISION_OURS = `statement triggers with row keys (revision ${INSTALL_REVISION}, ours)`;
/** Revision 1's trigger function as released (payload v1, no signature), in a schema of the bench's own. */
const REVISION_1_SCHEMA = "bench_revision_1";
const REVISION_1_FUNCTION = `CREATE OR REPLACE FUNCTION ${REVISION_1_SCHEMA}.notify_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pgcw$
DECLARE
  channel text := coalesce(TG_ARGV[0], 'pgcachewatch');
  op text := lower(TG_OP);
  ts text := (extract(epoch FROM transaction_timestamp()) * 1000)::bigint::text;
  ancestor record;
BEGIN
  PERFORM pg_notify(channel, format('{"v":1,"s":%s,"t":%s,"op":"%s","ts":%s}',
    to_json(TG_TABLE_SCHEMA::text), to_json(TG_TABLE_NAME::text), op, ts));
  FOR ancestor IN
    SELECT n.nspname, c.relname
      FROM pg_partition_ancestors(TG_RELID) AS a
      JOIN pg_class c ON c.oid = a.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.relid <> TG_RELID
  LOOP
    PERFORM pg_notify(channel, format('{"v":1,"s":%s,"t":%s,"op":"%s","ts":%s}',
      to_json(ancestor.nspname::text), to_json(ancestor.relname::text), op, ts));
  END LOOP;
  RETURN NULL;
END
$pgcw$`;

interface Variant {
  name: string;
  /** Prepare triggers and listeners; returns the teardown. */
  setup(admin: pg.Client): Promise<() => Promise<void>>;
}

interface Run {
  variant: string;
  workload: string;
  clients: number;
  tps: number;
  latency: Distribution;
}

/**
 * Scenario 4: what the change capture costs the writers. pgbench-style single-row UPDATEs from
 * `pg` clients in this process (prepared statements, autocommit), with no capture, revision 1's
 * table-wide statement trigger, revision 3's keyed statement triggers, the naive row trigger, and
 * the WAL source when available. Every transaction that
 * NOTIFYs takes a cluster-wide lock until its commit is flushed.
 */
export async function runWritePath(context: ScenarioContext): Promise<SectionResult> {
  const seconds = context.quick ? 1 : 8;
  const result = section(
    "write",
    "Write-path cost of change capture",
    `Single-row UPDATE ... SET balance = balance + $1 WHERE id = $2 on a ${int(ACCOUNTS)}-row table, autocommit, ` +
      `prepared, from N pg clients in this process, ${seconds}s per run (after a short warm-up). ` +
      "Each NOTIFY variant has a live listener draining the channel. The batch row updates 100 rows per statement.",
  );
  const admin = await connect(context.url);
  await admin.query("DROP TABLE IF EXISTS wp_accounts");
  await admin.query(
    "CREATE TABLE wp_accounts (id integer PRIMARY KEY, balance integer NOT NULL, filler char(84) NOT NULL DEFAULT '')",
  );
  await admin.query(
    `INSERT INTO wp_accounts (id, balance) SELECT g, 0 FROM generate_series(1, ${ACCOUNTS}) AS g`,
  );
  await admin.query("VACUUM ANALYZE wp_accounts");

  const variants: Variant[] = [
    { name: "no capture", setup: async () => async () => {} },
    {
      name: REVISION_1,
      setup: async (client) => {
        // Revision 1 as released: its own function (from the git history), one trigger, table-wide.
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${REVISION_1_SCHEMA}`);
        await client.query(REVISION_1_FUNCTION);
        await dropTriggers(client, "wp_accounts");
        await client.query(
          `CREATE TRIGGER pgcachewatch_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON wp_accounts
             FOR EACH STATEMENT EXECUTE FUNCTION ${REVISION_1_SCHEMA}.notify_change('pgcachewatch')`,
        );
        const watch = createCacheWatch({ connectionString: context.url });
        await watch.start();
        return async () => {
          await watch.stop();
          await dropTriggers(client, "wp_accounts");
        };
      },
    },
    {
      name: REVISION_2,
      setup: async (client) => {
        // Revision 2's layout: one statement trigger for every operation, table-wide events.
        await installStatementTriggers(client, ["wp_accounts"]);
        await dropTriggers(client, "wp_accounts");
        await client.query(
          `CREATE TRIGGER pgcachewatch_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON wp_accounts
             FOR EACH STATEMENT EXECUTE FUNCTION pgcachewatch.notify_change('pgcachewatch')`,
        );
        const watch = createCacheWatch({ connectionString: context.url });
        await watch.start();
        return async () => {
          await watch.stop();
          await dropTriggers(client, "wp_accounts");
        };
      },
    },
    {
      name: REVISION_OURS,
      setup: async (client) => {
        await installStatementTriggers(client, ["wp_accounts"]);
        const watch = createCacheWatch({ connectionString: context.url });
        await watch.start();
        return async () => {
          await watch.stop();
          await dropTriggers(client, "wp_accounts");
        };
      },
    },
    {
      name: "row trigger + NOTIFY per row (naive)",
      setup: async (client) => {
        await installRowTriggers(client, "wp_accounts", ROW_CHANNEL);
        const listener = await connect(context.url);
        listener.on("notification", () => {});
        await listener.query(`LISTEN ${ROW_CHANNEL}`);
        return async () => {
          await listener.end();
          await dropTriggers(client, "wp_accounts");
        };
      },
    },
  ];
  for (const source of sourceVariants(context.walAvailable)) {
    if (source.name !== "wal") continue;
    variants.push({
      name: "WAL source (no trigger)",
      setup: async () => {
        const watch = createCacheWatch(source.options(context.url, ["wp_accounts"]));
        await watch.start();
        return () => watch.stop();
      },
    });
  }

  const triggerTimes: { variant: string; rows: number; time: Distribution }[] = [];
  const runs: Run[] = [];
  const workloads: { name: string; clients: number; rowsPerStatement: number }[] = [
    { name: "1-row UPDATE", clients: 1, rowsPerStatement: 1 },
    ...(context.quick ? [] : [{ name: "1-row UPDATE", clients: 4, rowsPerStatement: 1 }]),
    { name: "1-row UPDATE", clients: 16, rowsPerStatement: 1 },
    { name: "100-row UPDATE", clients: 1, rowsPerStatement: 100 },
    ...(context.quick ? [] : [{ name: "100-row UPDATE", clients: 4, rowsPerStatement: 100 }]),
  ];
  try {
    // The triggers' own time per statement, as EXPLAIN ANALYZE reports it: steadier than tx/s on
    // a shared machine, since it leaves out the commit, the network and the other sessions.
    for (const variant of variants.filter((v) => [REVISION_1, REVISION_2, REVISION_OURS].includes(v.name))) {
      await dropTriggers(admin, "wp_accounts");
      const teardown = await variant.setup(admin);
      try {
        for (const rows of [1, 100]) {
          triggerTimes.push({
            variant: variant.name,
            rows,
            time: await triggerTime(admin, rows, context.quick),
          });
        }
      } finally {
        await teardown();
      }
    }
    for (const workload of workloads) {
      // Variants interleaved per workload, so drift on a shared machine hits them alike.
      for (const variant of variants) {
        context.log(`write path: ${variant.name}, ${workload.name}, ${workload.clients} clients`);
        await dropTriggers(admin, "wp_accounts");
        const teardown = await variant.setup(admin);
        try {
          const measured = await drive(context.url, workload.clients, workload.rowsPerStatement, seconds);
          runs.push({
            variant: variant.name,
            workload: workload.name,
            clients: workload.clients,
            ...measured,
          });
        } finally {
          await teardown();
        }
      }
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${REVISION_1_SCHEMA} CASCADE`);
    await admin.end();
  }

  const baseline = (run: Run) =>
    runs.find((r) => r.variant === "no capture" && r.workload === run.workload && r.clients === run.clients);
  result.tables.push({
    title: "Writer throughput",
    columns: ["workload", "clients", "variant", "tx/s", "vs no capture", "tx p50", "tx p99"],
    rows: runs.map((r) => {
      const base = baseline(r);
      return [
        r.workload,
        String(r.clients),
        r.variant,
        int(r.tps),
        base ? pct(r.tps / base.tps) : "",
        ms(r.latency.p50),
        ms(r.latency.p99),
      ];
    }),
  });
  result.tables.push({
    title: "Trigger time per statement (EXPLAIN ANALYZE, one statement per transaction)",
    columns: ["statement", "variant", "trigger p50", "trigger p90", "p50 vs revision 1"],
    rows: triggerTimes.map((t) => {
      const revision1 = triggerTimes.find((r) => r.variant === REVISION_1 && r.rows === t.rows);
      return [
        `${t.rows}-row UPDATE`,
        t.variant,
        ms(t.time.p50),
        ms(t.time.p90),
        revision1 ? `${(t.time.p50 / revision1.time.p50).toFixed(2)}x` : "",
      ];
    }),
  });
  const singleRow = runs.filter((r) => r.workload === "1-row UPDATE");
  result.charts.push({
    title: "Single-row UPDATE throughput (tx/s)",
    unit: "tx/s",
    log: false,
    series: variants.map((v) => v.name),
    groups: [...new Set(singleRow.map((r) => r.clients))].map((clients) => ({
      label: `${clients} client${clients === 1 ? "" : "s"}`,
      values: variants.map((v) => singleRow.find((r) => r.clients === clients && r.variant === v.name)?.tps),
    })),
  });
  for (const run of runs.filter((r) => r.variant.startsWith("WAL") && r.workload === "1-row UPDATE")) {
    const base = baseline(run);
    if (!base) continue;
    result.targets.push({
      target: `WAL source within 5% of no capture (${run.clients} clients)`,
      measured: pct(run.tps / base.tps),
      met: run.tps >= base.tps * 0.95,
    });
  }
  for (const run of runs.filter((r) => r.variant === REVISION_OURS)) {
    const revision1 = runs.find(
      (r) => r.variant === REVISION_1 && r.workload === run.workload && r.clients === run.clients,
    );
    if (!revision1) continue;
    result.targets.push({
      target: `revision ${INSTALL_REVISION} (row keys) within 10% of revision 1 (${run.workload}, ${run.clients} clients)`,
      measured: pct(run.tps / revision1.tps),
      met: run.tps >= revision1.tps * 0.9,
    });
  }
  result.notes.push(
    `Revision ${INSTALL_REVISION} sends, per statement, the distinct primary-key and foreign-key values of the old and new rows ` +
      "(transition tables), in a signed envelope. Revision 1 is the function as first released (one table-wide, unsigned " +
      "event per statement); the revision 2 layout runs today's function on one table-wide trigger, so its gap to " +
      "revision 1 is the signature and its gap to ours is the key capture.",
  );
  result.notes.push(
    "The load generator shares the machine's cores with the server; at 16 clients the 'no capture' figure " +
      "may be bounded by the client process as much as by the server.",
  );
  return result;
}

/** Median trigger time (ms) of `rows`-row UPDATEs, each its own transaction. */
async function triggerTime(client: pg.Client, rows: number, quick: boolean): Promise<Distribution> {
  const samples: number[] = [];
  for (let i = 0; i < (quick ? 50 : 300); i++) {
    const id = 1 + Math.floor(Math.random() * (ACCOUNTS - rows));
    const { rows: plan } = await client.query<{ "QUERY PLAN": [{ Triggers?: { Time: number }[] }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) UPDATE wp_accounts SET balance = balance + 1 WHERE id BETWEEN ${id} AND ${id + rows - 1}`,
    );
    const triggers = plan[0]?.["QUERY PLAN"][0]?.Triggers ?? [];
    samples.push(triggers.reduce((sum, trigger) => sum + trigger.Time, 0));
  }
  return summarize(samples);
}

async function drive(
  url: string,
  clientCount: number,
  rowsPerStatement: number,
  seconds: number,
): Promise<{ tps: number; latency: Distribution }> {
  const clients = await Promise.all(
    Array.from({ length: clientCount }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    }),
  );
  const text =
    rowsPerStatement === 1
      ? "UPDATE wp_accounts SET balance = balance + $1 WHERE id = $2"
      : `UPDATE wp_accounts SET balance = balance + $1 WHERE id BETWEEN $2 AND $2 + ${rowsPerStatement - 1}`;
  const samples: number[] = [];
  let measuring = false;
  let running = true;
  let count = 0;
  const loops = clients.map(async (client) => {
    while (running) {
      const id = 1 + Math.floor(Math.random() * (ACCOUNTS - rowsPerStatement));
      const t0 = now();
      await client.query({ name: "wp-update", text, values: [1, id] });
      if (measuring) {
        samples.push(now() - t0);
        count++;
      }
    }
  });
  await sleep(300);
  measuring = true;
  const started = now();
  await sleep(seconds * 1000);
  measuring = false;
  const elapsed = (now() - started) / 1000;
  running = false;
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.end()));
  return { tps: count / elapsed, latency: summarize(samples) };
}
