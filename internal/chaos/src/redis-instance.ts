// One more app instance for `pnpm chaos --redis --instances N`, in its own process, sharing the
// checked engine's Redis tier and reading the same keys. With BUS=1 its change source is the bus
// (it is a relay candidate: the elected relay runs the fleet's only LISTEN); without, it has none.
// Env: DATABASE_URL, REDIS_URL, PREFIX, ROWS, CHANNEL, BUS, HEARTBEAT.
// Prints "id <bus instance id>" at start, "relay" / "follower" when that changes, and on SIGTERM
// its counters as JSON (the last line) before it exits.
import { type ChangeSource, createCacheWatch, NotifySource } from "@pgcachewatch/core";
import { type BusSource, createBusSource, createRedisTier } from "@pgcachewatch/redis";
import pg from "pg";
import { coreReadPaths } from "./readers.js";
import { sleep } from "./sleep.js";
import { DEFAULT_WORKLOAD_TABLE } from "./workload-schema.js";

const url = process.env.DATABASE_URL as string;
const rows = Number(process.env.ROWS ?? "8");
const prefix = process.env.PREFIX as string;
const heartbeatInterval = Number(process.env.HEARTBEAT ?? "500");
const tier = createRedisTier({ redis: process.env.REDIS_URL as string, prefix, coverage: 1500 });
const bus: BusSource | undefined =
  process.env.BUS === "1"
    ? createBusSource({
        redis: process.env.REDIS_URL as string,
        prefix,
        heartbeatInterval,
        relaySource: (): ChangeSource =>
          new NotifySource({
            connectionString: url,
            channel: process.env.CHANNEL ?? "pgcachewatch",
            heartbeatInterval,
            reconnectDelay: { initial: 50, max: 1000 },
          }),
      })
    : undefined;
const watch = createCacheWatch({
  connectionString: url,
  source: bus ?? "none",
  maxEntries: 4,
  secondTier: tier,
});
watch.on("error", () => {});
void watch.start().catch(() => {});
const pool = new pg.Pool({ connectionString: url, max: 2 });
pool.on("error", () => {});
const paths = coreReadPaths(watch, pool, DEFAULT_WORKLOAD_TABLE);
let stopped = false;
process.once("SIGTERM", () => {
  stopped = true;
});
if (bus) process.stdout.write(`id ${bus.instanceId}\n`);
process.stdout.write("started\n");
let relay = false;
const relayWatch = setInterval(() => {
  if (bus && bus.isRelay !== relay) {
    relay = bus.isRelay;
    process.stdout.write(relay ? "relay\n" : "follower\n");
  }
}, 50);
while (!stopped) {
  const path = paths[Math.floor(Math.random() * paths.length)];
  const id = 1 + Math.floor(Math.random() * rows);
  await (Math.random() < 0.1 ? path?.readAll() : path?.readRow(id))?.catch(() => {});
  await sleep(Math.random() * 3);
}
clearInterval(relayWatch);
process.stdout.write(`${JSON.stringify({ tier: tier.stats(), bus: bus?.counts ?? null })}\n`);
await watch.stop();
await tier.close();
await pool.end();
process.exit(0);
