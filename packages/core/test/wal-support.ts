import pg from "pg";
import type { ChangeEvent } from "../src/events/change-event.js";
import type { ChangeSourceHandlers } from "../src/sources/change-source.js";

/** Whether the test server can run the WAL source, and why not. */
export interface WalAvailability {
  readonly ok: boolean;
  readonly reason: string;
}

/**
 * Check the server's settings and the role's privileges (never assumed). Without them the WAL tests
 * skip visibly, or fail when PGCW_REQUIRE_WAL=1.
 */
export async function checkWalAvailability(url: string): Promise<WalAvailability> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ wal_level: string; can: boolean; free: number; senders: number }>(
      `SELECT current_setting('wal_level') AS wal_level,
              (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can,
              current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)::int AS free,
              current_setting('max_wal_senders')::int AS senders`,
    );
    const row = rows[0];
    const problems: string[] = [];
    if (row?.wal_level !== "logical") problems.push(`wal_level is '${row?.wal_level}', not 'logical'`);
    if (!row?.can) problems.push("the role has no REPLICATION privilege");
    if ((row?.free ?? 0) < 4) problems.push(`only ${row?.free} free replication slot(s)`);
    if ((row?.senders ?? 0) < 4) problems.push(`max_wal_senders is ${row?.senders}`);
    return problems.length === 0 ? { ok: true, reason: "" } : { ok: false, reason: problems.join("; ") };
  } finally {
    await client.end();
  }
}

/** Decide at the start of a file: throws under PGCW_REQUIRE_WAL=1, else prints the skip reason. */
export function announceWalAvailability(availability: WalAvailability, file: string): void {
  if (availability.ok) return;
  const message = `WAL streaming tests in ${file} SKIPPED: ${availability.reason} on the test server (set PGCW_REQUIRE_WAL=1 to make this a failure)`;
  if (process.env.PGCW_REQUIRE_WAL === "1") throw new Error(message.replace("SKIPPED", "cannot run"));
  process.stderr.write(`[pgcw] ${message}\n`);
}

/** Records everything a change source reports and lets tests wait for it (bounded). */
export class RecordingHandlers implements ChangeSourceHandlers {
  readonly events: ChangeEvent[] = [];
  readonly log: string[] = [];
  readonly errors: Error[] = [];
  readonly malformed: string[] = [];
  private waiters: (() => void)[] = [];

  onReady(): void {
    this.push("ready");
  }
  onLost(error: Error): void {
    this.push(`lost: ${error.message}`);
  }
  onChange(event: ChangeEvent): void {
    this.events.push(event);
    this.push(`change ${event.schema}.${event.table} ${event.operation}`);
  }
  onMalformed(detail: string): void {
    this.malformed.push(detail);
  }
  onError(error: Error): void {
    this.errors.push(error);
  }

  count(prefix: string): number {
    return this.log.filter((line) => line.startsWith(prefix)).length;
  }

  private push(line: string): void {
    this.log.push(line);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Wait until `predicate` holds, re-checked on every report; fails after `timeoutMs` with the log. */
  async until(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}; log:\n${this.log.slice(-30).join("\n")}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  eventsFor(table: string, operation?: string): ChangeEvent[] {
    return this.events.filter(
      (e) => e.table === table && (operation === undefined || e.operation === operation),
    );
  }
}
