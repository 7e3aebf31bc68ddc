import { parseArgs } from "node:util";
import { createTestDatabase, redisForTests, startEmbeddedServer } from "@pgcachewatch/testdb";
import { listenerKill } from "./faults/listener-kill.js";
import { RedisFleet } from "./redis-fleet.js";
import { DEFAULT_FAULTS, runChaos } from "./run-chaos.js";
import { chaosPassed, formatSummary } from "./summary.js";

const usage = `pnpm chaos [--minutes N] [--source notify|wal] [--database-url URL] [--restarts N] [--heartbeat MS]
                  [--redis [--instances N] [--fleet-source bus|none]]

Runs the staleness checker against a live engine for N minutes (default 1) while the listener is
killed, its socket goes half-open, hostile payloads arrive and the server restarts, then prints the
summary. Without --database-url it starts a private embedded PostgreSQL, the only kind it restarts
(default: one restart every 3 minutes, at least one). With --database-url (a superuser URL) it
creates and drops a scratch database there and never restarts that server. --source wal runs the
engine on logical replication (the server needs wal_level=logical) with walsender kills and a
dropped slot among the faults. --redis gives the checked engine a shared Redis tier (REDIS_URL, or
a private redis-server it restarts) and runs N-1 more instances, each in its own process, that fill
the same Redis. With more than one instance every one of them takes its changes from the bus
(--fleet-source bus, the default): one relay, elected among the other processes, holds the only
LISTEN; the faults are then relay process kills (and a new process in its place), the relay lock
deleted, bus and tier connections killed, listener kills, Redis and server restarts. With
--fleet-source none the checked engine listens itself and the others have no source.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: "string", default: "1" },
      "database-url": { type: "string" },
      restarts: { type: "string" },
      heartbeat: { type: "string", default: "500" },
      source: { type: "string", default: "notify" },
      instances: { type: "string", default: "1" },
      redis: { type: "boolean", default: false },
      "fleet-source": { type: "string", default: "bus" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const minutes = Number(values.minutes);
  const heartbeat = Number(values.heartbeat);
  const source = values.source;
  const instances = Number(values.instances);
  if (
    !(minutes > 0) ||
    !(heartbeat >= 50) ||
    (source !== "notify" && source !== "wal") ||
    !(instances >= 1) ||
    (instances > 1 && !values.redis) ||
    (values["fleet-source"] !== "bus" && values["fleet-source"] !== "none") ||
    // The relay runs a NOTIFY source; a WAL relay is not wired into the chaos run yet.
    (instances > 1 && values["fleet-source"] === "bus" && source !== "notify")
  ) {
    console.error(usage);
    return 2;
  }
  const adminUrl = values["database-url"];
  const server = adminUrl === undefined ? await startEmbeddedServer() : undefined;
  const restarts = server ? Number(values.restarts ?? Math.max(1, Math.floor(minutes / 3))) : 0;
  const database = await createTestDatabase(server?.adminUrl ?? adminUrl ?? "", "chaos");
  const started = Date.now();
  const log = (line: string) =>
    console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  let stopping = false;
  const redis = values.redis ? await redisForTests() : undefined;
  if (values.redis && !redis) {
    console.error("--redis needs REDIS_URL or a redis-server binary");
    return 2;
  }
  const bus = instances > 1 && values["fleet-source"] === "bus";
  const fleet = redis
    ? new RedisFleet({ redis, instances, rowCount: 8, bus, heartbeatInterval: heartbeat })
    : undefined;
  const cleanup = async () => {
    await fleet?.close().catch(() => {});
    await redis?.stop();
    await database.drop().catch(() => {});
    await server?.stop();
  };
  process.once("SIGINT", () => {
    if (stopping) return;
    stopping = true;
    console.error("interrupted: cleaning up");
    void cleanup().finally(() => process.exit(130));
  });
  try {
    // The checked engine never relays: it is ready only once another instance does.
    if (fleet && bus) await fleet.startOthers(database.url);
    log(`running ${minutes} min on ${server ? "a private embedded PostgreSQL" : "the given server"}`);
    const summary = await runChaos({
      label: `pnpm chaos --minutes ${minutes} --source ${source}${fleet ? ` --redis --instances ${instances}${instances > 1 ? ` --fleet-source ${bus ? "bus" : "none"}` : ""}` : ""}`,
      source,
      url: database.url,
      ...(server ? { server } : {}),
      serverDescription: server ? "private embedded PostgreSQL" : "given server, no restarts",
      durationMs: minutes * 60_000,
      heartbeatInterval: heartbeat,
      restarts,
      log,
      ...(fleet
        ? {
            engine: fleet.engine(),
            extraReadPaths: ({ url }) => fleet.startOthers(url),
            // Under the bus the checked engine has no listener of its own: no half-open socket,
            // and hostile payloads reach only the relay (its counts are not the checked engine's).
            faults: bus ? [listenerKill, ...fleet.faults()] : [...DEFAULT_FAULTS, ...fleet.faults()],
            staleAfterMs: fleet.detectionMs() + 2000,
            ...(bus ? { proxy: false } : {}),
          }
        : {}),
    });
    console.log(formatSummary(summary));
    if (fleet) {
      const { checked, bus: busCounts } = fleet.stats();
      const line = (s: typeof checked) =>
        `hits ${s.hits}, misses ${s.misses}, skipped ${s.skipped}, fills ${s.fills}, refused ${s.fillsRefused}, flushes ${s.flushes}, epochs ${s.epochs}, recoveries ${s.recoveries}, errors ${s.errors}`;
      const busLine = (c: typeof busCounts) =>
        c
          ? `; bus: messages ${c.messages}, relay changes ${c.relayChanges}, gaps ${c.gaps}, silences ${c.silences}`
          : "";
      console.log(`Redis tier, checked instance: ${line(checked)}${busLine(busCounts)}`);
      if (fleet.failovers.length > 0) {
        const sorted = [...fleet.failovers].sort((a, b) => a - b);
        const at = (q: number) => Math.round(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0);
        console.log(
          `relay failover (relay process SIGKILL -> checked instance ready again): ${sorted.length} kills, p50 ${at(0.5)} ms, max ${Math.round(sorted.at(-1) ?? 0)} ms`,
        );
      }
      // The other processes report their counters as they stop.
      await fleet.close();
      const reports = fleet.stats().others;
      const killed = reports.filter((s) => s === "killed").length;
      if (killed > 0)
        console.log(`instance processes killed by faults (each replaced by a new one): ${killed}`);
      for (const [i, s] of reports.filter((r) => r !== "killed").entries()) {
        const text = typeof s === "string" ? s : `${line(s.tier)}${busLine(s.bus ?? undefined)}`;
        console.log(`instance process ${i + 1} (running at the end): ${text}`);
      }
    }
    return chaosPassed(summary) ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
