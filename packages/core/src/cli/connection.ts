import pg from "pg";
import { clientConfigFor, redactSecrets } from "../connection-string.js";
import { PgCacheWatchError } from "../errors.js";
import type { CommonFlags } from "./parse-args.js";

/** The database could not be reached or refused the login. */
export class CannotConnectError extends PgCacheWatchError {
  constructor(target: string, reason: string, options?: { cause?: unknown }) {
    super("CANNOT_CONNECT", `cannot connect to ${target}: ${reason}`, options);
  }
}

const CONNECT_TIMEOUT_MS = 10_000;

function connectionStringOf(common: CommonFlags, env: NodeJS.ProcessEnv): string | undefined {
  return common.url ?? (env.DATABASE_URL === "" ? undefined : env.DATABASE_URL);
}

/**
 * `--url`, else `DATABASE_URL` (a postgres:// URL or libpq key=value text), else nothing: `pg`
 * then reads PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD... A malformed string throws
 * InvalidConnectionStringError, whose message has no password.
 */
export function connectionConfig(common: CommonFlags, env: NodeJS.ProcessEnv): pg.ClientConfig {
  return clientConfigFor(connectionStringOf(common, env), {
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: "pgcachewatch",
  });
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
  const connectionString = connectionStringOf(common, env);
  const config = connectionConfig(common, env);
  let client: pg.Client;
  try {
    client = new pg.Client(config);
  } catch (error) {
    throw new CannotConnectError(
      "the database",
      `invalid connection settings: ${redactSecrets(reasonOf(error), connectionString)}`,
    );
  }
  // A client that errors before a listener is attached would crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    // --verbose prints the cause's stack: runCli redacts it like every other line it prints.
    throw new CannotConnectError(
      redactSecrets(describeTarget(client), connectionString),
      redactSecrets(reasonOf(error), connectionString),
      { cause: error },
    );
  }
  return client;
}
