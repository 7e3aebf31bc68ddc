import pg from "pg";
import { PgCacheWatchError } from "../errors.js";
import type { CommonFlags } from "./parse-args.js";

/** The database could not be reached or refused the login. */
export class CannotConnectError extends PgCacheWatchError {
  constructor(target: string, reason: string, options?: { cause?: unknown }) {
    super("CANNOT_CONNECT", `cannot connect to ${target}: ${reason}`, options);
  }
}

const CONNECT_TIMEOUT_MS = 10_000;

/** `--url`, else `DATABASE_URL`, else nothing: `pg` then reads PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD... */
export function connectionConfig(common: CommonFlags, env: NodeJS.ProcessEnv): pg.ClientConfig {
  const url = common.url ?? (env.DATABASE_URL === "" ? undefined : env.DATABASE_URL);
  const base: pg.ClientConfig = {
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: "pgcachewatch",
  };
  return url === undefined ? base : { ...base, connectionString: url };
}

/** `user@host:port/database`, never the password. */
export function describeTarget(client: pg.Client): string {
  const params = client as unknown as { host?: string; port?: number; database?: string; user?: string };
  const host = params.host?.startsWith("/") ? `socket ${params.host}` : (params.host ?? "localhost");
  return `${params.user ?? "?"}@${host}:${params.port ?? 5432}/${params.database ?? "?"}`;
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ECONNREFUSED") return "connection refused (is PostgreSQL running there?)";
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
    return error.message || String(code ?? "unknown error");
  }
  return String(error);
}

/** Open a plain client; connection failures become {@link CannotConnectError}. */
export async function openClient(common: CommonFlags, env: NodeJS.ProcessEnv): Promise<pg.Client> {
  let client: pg.Client;
  try {
    client = new pg.Client(connectionConfig(common, env));
  } catch (error) {
    throw new CannotConnectError("the database", `invalid connection settings: ${reasonOf(error)}`, {
      cause: error,
    });
  }
  // A client that errors before a listener is attached would crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new CannotConnectError(describeTarget(client), reasonOf(error), { cause: error });
  }
  return client;
}
