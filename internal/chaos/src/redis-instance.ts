// One more app instance for `pnpm chaos --redis --instances N`, in its own process: an engine with
// no change source of its own, sharing the checked engine's Redis tier, reading the same keys.
// Env: DATABASE_URL, REDIS_URL, PREFIX, ROWS. On SIGTERM it prints its tier's stats as JSON and exits.
import { createCacheWatch } from "@pgcachewatch/core";
import { createRedisTier } from "@pgcachewatch/redis";
import pg from "pg";
import { coreReadPaths } from "./readers.js";
import { sleep } from "./sleep.js";
import { DEFAULT_WORKLOAD_TABLE } from "./workload-schema.js";

const url = process.env.DATABASE_URL as string;
const rows = Number(process.env.ROWS ?? "8");
const tier = createRedisTier({
  redis: process.env.REDIS_URL as string,
  prefix: process.env.PREFIX as string,
  coverage: 1500,
});
const watch = createCacheWatch({ connectionString: url, source: "none", maxEntries: 4, secondTier: tier });
await watch.start();
const pool = new pg.Pool({ connectionString: url, max: 2 });
pool.on("error", () => {});
const paths = coreReadPaths(watch, pool, DEFAULT_WORKLOAD_TABLE);
let stopped = false;
process.once("SIGTERM", () => {
  stopped = true;
});
process.stdout.write("started\n");
while (!stopped) {
  const path = paths[Math.floor(Math.random() * paths.length)];
  const id = 1 + Math.floor(Math.random() * rows);
  await (Math.random() < 0.1 ? path?.readAll() : path?.readRow(id))?.catch(() => {});
  await sleep(Math.random() * 3);
}
process.stdout.write(`${JSON.stringify(tier.stats())}\n`);
await watch.stop();
await tier.close();
await pool.end();
process.exit(0);
