import { createHash } from "node:crypto";
import type pg from "pg";
import { quoteIdentifier } from "../sources/quote-identifier.js";
import { toChannel } from "../triggers/channel.js";
import { InvalidChannelError } from "../triggers/errors.js";
import { quoteLiteral } from "../triggers/sql-text.js";
import { DdlEventTriggerInstallError } from "./errors.js";

/** The schema the library's database objects live in. */
const SCHEMA = "pgcachewatch";

/** PostgreSQL's NAMEDATALEN - 1. */
const MAX_CHANNEL_BYTES = 63;

export interface DdlEventTriggerNames {
  /** The channel DDL is announced on: `<channel>_ddl`. */
  readonly channel: string;
  readonly functionName: string;
  readonly commandEndTrigger: string;
  readonly dropTrigger: string;
}

/** Names for a channel; event trigger names carry a short hash so any valid channel fits in 63 bytes. */
export function ddlEventTriggerNames(channel?: string): DdlEventTriggerNames {
  const base = toChannel(channel);
  const ddlChannel = `${base}_ddl`;
  if (Buffer.byteLength(ddlChannel, "utf8") > MAX_CHANNEL_BYTES) {
    throw new InvalidChannelError(base, `"${ddlChannel}" is longer than ${MAX_CHANNEL_BYTES} bytes`);
  }
  const hash = createHash("sha256").update(base).digest("hex").slice(0, 10);
  return {
    channel: ddlChannel,
    functionName: `ddl_notify_${hash}`,
    commandEndTrigger: `pgcachewatch_ddl_end_${hash}`,
    dropTrigger: `pgcachewatch_ddl_drop_${hash}`,
  };
}

/** A dollar-quote tag that does not occur in `body`. */
function dollarTag(body: string): string {
  let tag = "$pgcw_ddl$";
  for (let i = 0; body.includes(tag); i++) tag = `$pgcw_ddl_${i}$`;
  return tag;
}

/**
 * SQL that installs event triggers (ddl_command_end, sql_drop) announcing every schema change on
 * `<channel>_ddl`, so the analyzer's catalog can be invalidated. The payload is
 * `<event> <command tag>` (no user data). The function swallows every error: a cache helper must
 * never make a user's DDL fail. Creating event triggers needs a superuser; they then fire for
 * every role. Idempotent.
 */
export function ddlEventTriggerSql(channel?: string): string {
  const names = ddlEventTriggerNames(channel);
  const fn = `${quoteIdentifier(SCHEMA)}.${quoteIdentifier(names.functionName)}`;
  const body = `
BEGIN
  PERFORM pg_catalog.pg_notify(${quoteLiteral(names.channel)}, TG_EVENT || ' ' || TG_TAG);
EXCEPTION WHEN OTHERS THEN
  NULL; -- never fail the user's DDL
END
`;
  const tag = dollarTag(body);
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(SCHEMA)};
CREATE OR REPLACE FUNCTION ${fn}() RETURNS event_trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS ${tag}${body}${tag};
DROP EVENT TRIGGER IF EXISTS ${quoteIdentifier(names.commandEndTrigger)};
CREATE EVENT TRIGGER ${quoteIdentifier(names.commandEndTrigger)} ON ddl_command_end EXECUTE FUNCTION ${fn}();
DROP EVENT TRIGGER IF EXISTS ${quoteIdentifier(names.dropTrigger)};
CREATE EVENT TRIGGER ${quoteIdentifier(names.dropTrigger)} ON sql_drop EXECUTE FUNCTION ${fn}();
`;
}

/** SQL that removes what {@link ddlEventTriggerSql} installed (the schema stays: other objects live there). */
export function uninstallDdlEventTriggerSql(channel?: string): string {
  const names = ddlEventTriggerNames(channel);
  return `DROP EVENT TRIGGER IF EXISTS ${quoteIdentifier(names.commandEndTrigger)};
DROP EVENT TRIGGER IF EXISTS ${quoteIdentifier(names.dropTrigger)};
DROP FUNCTION IF EXISTS ${quoteIdentifier(SCHEMA)}.${quoteIdentifier(names.functionName)}();
`;
}

/** Install the DDL event triggers over `client` (a superuser connection) in one transaction. */
export async function installDdlEventTrigger(
  client: pg.ClientBase,
  channel?: string,
): Promise<DdlEventTriggerNames> {
  const sql = ddlEventTriggerSql(channel);
  try {
    await client.query(`BEGIN;\n${sql}COMMIT;`);
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw new DdlEventTriggerInstallError(error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
  return ddlEventTriggerNames(channel);
}
