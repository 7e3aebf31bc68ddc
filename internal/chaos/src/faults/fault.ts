import type { CacheWatch, CacheWatchEvents } from "@pgcachewatch/core";
import type { EmbeddedServer, TcpProxy } from "@pgcachewatch/testdb";
import pg from "pg";

/** What a fault may touch. */
export interface FaultContext {
  readonly watch: CacheWatch;
  /** The workload database, reached directly (not through the proxy). */
  readonly url: string;
  readonly channel: string;
  /** Set when the engine's listener runs through a proxy that can freeze. */
  readonly proxy?: TcpProxy;
  /** Set only for a server this process started: the only kind it may restart. */
  readonly server?: EmbeddedServer;
  readonly heartbeatInterval: number;
}

export interface FaultOutcome {
  readonly kind: string;
  /** False when the engine did not react as it must (not lost, or not back in time). */
  readonly ok: boolean;
  readonly detail?: string;
}

export interface Fault {
  readonly kind: string;
  inject(context: FaultContext): Promise<FaultOutcome>;
}

/** Run `body` on a fresh direct connection to the workload database. */
export async function withAdmin<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "pgcw-chaos-admin" });
  client.on("error", () => {});
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Resolves true at the first matching event, false after `timeoutMs`. */
export function eventWithin<K extends keyof CacheWatchEvents>(
  watch: CacheWatch,
  name: K,
  timeoutMs: number,
): { promise: Promise<boolean>; cancel(): void } {
  let cancel = () => {};
  const promise = new Promise<boolean>((resolve) => {
    const listener = () => {
      cancel();
      resolve(true);
    };
    const timer = setTimeout(() => {
      cancel();
      resolve(false);
    }, timeoutMs);
    cancel = () => {
      clearTimeout(timer);
      watch.off(name, listener as never);
    };
    watch.on(name, listener as never);
  });
  return { promise, cancel: () => cancel() };
}

/** PIDs of the engine's listener connections (NOTIFY listener or WAL sender) on the workload database. */
export async function listenerPids(client: pg.Client): Promise<number[]> {
  const { rows } = await client.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name IN ('pgcachewatch-listener', 'pgcachewatch-wal')",
  );
  return rows.map((row) => row.pid);
}
