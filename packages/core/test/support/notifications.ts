import pg from "pg";

const SENTINEL = "__pgcachewatch_test_sentinel__";

/**
 * A LISTEN connection that records every payload on a channel. `drain()` sends a sentinel on the
 * same channel from a separate transaction and waits for it: notifications arrive in commit order,
 * so everything committed before the call has been received once the sentinel is back.
 */
export interface NotificationRecorder {
  drain(writer: pg.Client): Promise<string[]>;
  close(): Promise<void>;
}

export async function recordNotifications(
  url: string,
  channel: string,
  timeoutMs = 20_000,
): Promise<NotificationRecorder> {
  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  let received: string[] = [];
  let onSentinel: (() => void) | undefined;
  listener.on("notification", (message) => {
    if (message.channel !== channel) return;
    if (message.payload === SENTINEL) onSentinel?.();
    else received.push(message.payload ?? "");
  });
  await listener.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
  return {
    async drain(writer) {
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("the sentinel notification never arrived")),
          timeoutMs,
        );
        onSentinel = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      await writer.query("SELECT pg_notify($1, $2)", [channel, SENTINEL]);
      await arrived;
      const batch = received;
      received = [];
      return batch;
    },
    async close() {
      await listener.end();
    },
  };
}

/** Objects a user could see in a database outside the system schemas: what install/uninstall may change. */
export async function catalogSnapshot(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ item: string }>(`
    SELECT 'schema ' || nspname AS item FROM pg_namespace
     WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT 'trigger ' || t.tgrelid::regclass::text || ' ' || quote_ident(t.tgname) || ' ' || t.tgfoid::regprocedure::text
      FROM pg_trigger t WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'event trigger ' || evtname || ' ' || evtfoid::regprocedure::text FROM pg_event_trigger
    UNION ALL
    SELECT 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
    ORDER BY 1`);
  return rows.map((row) => row.item);
}

/** Tables with our triggers, as `schema.table channel` (table names unquoted), sorted; once per table. */
export async function installedTriggers(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ item: string }>(`
    SELECT DISTINCT n.nspname || '.' || c.relname || ' ' ||
           convert_from(substr(t.tgargs, 1, position(decode('00', 'hex') IN t.tgargs) - 1), getdatabaseencoding()) AS item
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgfoid = to_regprocedure('pgcachewatch.notify_change()')::oid
     ORDER BY 1`);
  return rows.map((row) => row.item);
}
