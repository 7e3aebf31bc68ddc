// One app instance of the demo's multi-instance step, in its own process: an engine with its own
// LISTEN and first tier, sharing one Redis second tier with the others. It answers the parent over
// IPC: "read" runs the step's query through the cache and says where the answer came from (judged
// by the engine's and the tier's own counters), "stats" returns them, "stop" ends it. It tells the
// parent when a change event dropped its entry.
// Env: DATABASE_URL, REDIS_URL, PREFIX, SQL, TABLE.
import { performance } from "node:perf_hooks";
import { createCacheWatch } from "@pgcachewatch/core";
import { createRedisTier } from "@pgcachewatch/redis";
import pg from "pg";
import type { FleetReply, FleetRequest, ReadSource } from "./fleet-protocol.js";

const sql = process.env.SQL as string;
const table = process.env.TABLE as string;
const tier = createRedisTier({
  redis: process.env.REDIS_URL as string,
  prefix: process.env.PREFIX as string,
});
const watch = createCacheWatch({ connectionString: process.env.DATABASE_URL as string, secondTier: tier });
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL as string, max: 1 });
const send = (reply: FleetReply) => process.send?.(reply);

watch.on("invalidate", (info) => {
  if (info.reason === "change" && info.entries > 0) send({ kind: "dropped" });
});

async function read(): Promise<FleetReply> {
  const engine = watch.stats();
  const shared = tier.stats();
  const started = performance.now();
  const rows = await watch.load({ key: `demo-fleet:${sql}`, tables: [table] }, async () => {
    return (await pool.query(sql)).rows as Record<string, unknown>[];
  });
  const ms = performance.now() - started;
  const source: ReadSource =
    watch.stats().loads > engine.loads ? "PostgreSQL" : tier.stats().hits > shared.hits ? "Redis" : "memory";
  if (source === "PostgreSQL") {
    // Let the fill reach Redis (or be refused) before the parent asks the next instance.
    const decided = () => tier.stats().fills + tier.stats().fillsRefused;
    const before = shared.fills + shared.fillsRefused;
    for (let i = 0; i < 200 && decided() === before; i++) await new Promise((r) => setTimeout(r, 10));
  }
  return { kind: "read", rows, source, ms };
}

process.on("message", (request: FleetRequest) => {
  if (request.op === "read") {
    read().then(send, (error: unknown) => send({ kind: "error", message: String(error) }));
  } else if (request.op === "stats") {
    send({ kind: "stats", engine: watch.stats(), tier: tier.stats() });
  } else {
    void (async () => {
      await watch.stop();
      await tier.close();
      await pool.end();
      process.exit(0);
    })();
  }
});

try {
  await watch.start();
  await tier.whenAvailable();
  send({ kind: "ready", pid: process.pid });
} catch (error) {
  send({ kind: "error", message: String(error) });
  process.exit(1);
}
