import { parseArgs } from "node:util";
import { createTestDatabase, startEmbeddedServer } from "@pgcachewatch/testdb";
import { runChaos } from "./run-chaos.js";
import { chaosPassed, formatSummary } from "./summary.js";

const usage = `pnpm chaos [--minutes N] [--source notify|wal] [--database-url URL] [--restarts N] [--heartbeat MS]

Runs the staleness checker against a live engine for N minutes (default 1) while the listener is
killed, its socket goes half-open, hostile payloads arrive and the server restarts, then prints the
summary. Without --database-url it starts a private embedded PostgreSQL, the only kind it restarts
(default: one restart every 3 minutes, at least one). With --database-url (a superuser URL) it
creates and drops a scratch database there and never restarts that server. --source wal runs the
engine on logical replication (the server needs wal_level=logical) with walsender kills and a
dropped slot among the faults.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: "string", default: "1" },
      "database-url": { type: "string" },
      restarts: { type: "string" },
      heartbeat: { type: "string", default: "500" },
      source: { type: "string", default: "notify" },
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
  if (!(minutes > 0) || !(heartbeat >= 50) || (source !== "notify" && source !== "wal")) {
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
  const cleanup = async () => {
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
    log(`running ${minutes} min on ${server ? "a private embedded PostgreSQL" : "the given server"}`);
    const summary = await runChaos({
      label: `pnpm chaos --minutes ${minutes} --source ${source}`,
      source,
      url: database.url,
      ...(server ? { server } : {}),
      serverDescription: server ? "private embedded PostgreSQL" : "given server, no restarts",
      durationMs: minutes * 60_000,
      heartbeatInterval: heartbeat,
      restarts,
      log,
    });
    console.log(formatSummary(summary));
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
