import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePort } from "@pgcachewatch/testdb";

/** The Debian package's binary (`apt-get install pgbouncer`; `.ci/run` installs it), else one on PATH. */
export function findPgBouncer(): string | undefined {
  const candidates = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir) candidates.push(join(dir, "pgbouncer"));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}

export interface PgBouncer {
  /** URL of `database` through the pooler, in the pool mode of `alias`. */
  url(alias: string): string;
  stop(): Promise<void>;
}

export interface PgBouncerDatabase {
  /** Name clients use. */
  readonly alias: string;
  readonly poolMode: "session" | "transaction" | "statement";
}

/**
 * A private PgBouncer on a free port in front of the server behind `serverUrl` (its database, user
 * and password are what PgBouncer logs in with; clients authenticate with `auth_type = any`).
 */
export async function startPgBouncer(
  binary: string,
  serverUrl: string,
  databases: readonly PgBouncerDatabase[],
): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const port = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), "pgcw-pgbouncer-"));
  // PgBouncer refuses to run as root: it is started as `nobody`, who must read the config.
  chmodSync(dir, 0o755);
  const quote = (value: string) => `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  const entries = databases.map(
    (db) =>
      `${db.alias} = host=${server.hostname} port=${server.port || 5432} dbname=${quote(decodeURIComponent(server.pathname.slice(1)))} user=${quote(decodeURIComponent(server.username))}${server.password ? ` password=${quote(decodeURIComponent(server.password))}` : ""} pool_mode=${db.poolMode}`,
  );
  const ini = join(dir, "pgbouncer.ini");
  writeFileSync(
    ini,
    [
      "[databases]",
      ...entries,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = any",
      "pool_mode = transaction",
      "default_pool_size = 4",
      "max_client_conn = 100",
      "server_reset_query =",
      "ignore_startup_parameters = extra_float_digits,options",
      "",
    ].join("\n"),
  );
  chmodSync(ini, 0o644);
  const args = process.getuid?.() === 0 ? ["-u", "nobody", ini] : [ini];
  const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url(alias) {
      const url = new URL(`postgres://127.0.0.1:${port}/${alias}`);
      url.username = server.username;
      return url.toString();
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
