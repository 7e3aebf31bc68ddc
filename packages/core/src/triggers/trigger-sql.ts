import type { TableInput, TableRef } from "../events/table-name.js";
import { toChannel } from "./channel.js";
import {
  DEFAULT_MAX_ROWS,
  FOLLOW_PARTITIONS_STATEMENT,
  INSTALL_REVISION,
  SETUP_STATEMENTS,
  TEARDOWN_STATEMENTS,
  unwatchAllCall,
  unwatchTableCall,
  watchTableCall,
} from "./definitions.js";
import { toKeyOptions } from "./key-options.js";
import { toTableRefs } from "./resolve-tables.js";
import { quoteLiteral } from "./sql-text.js";

export interface SqlTextOptions {
  /**
   * Put drizzle-kit's `--> statement-breakpoint` between statements (for a custom drizzle-kit
   * migration with breakpoints on). Default: statements separated by blank lines only.
   */
  readonly drizzleBreakpoints?: boolean;
}

export interface TriggerSqlOptions extends SqlTextOptions {
  readonly tables: readonly TableInput[];
  /** NOTIFY channel. Default `pgcachewatch`. */
  readonly channel?: string;
  /** Schema for names without one. Default `public`. */
  readonly defaultSchema?: string;
  /** Include the event trigger that covers partitions created later (the migration must run as a superuser). */
  readonly followNewPartitions?: boolean;
  /** Extra key columns of every table named, as with `installTriggers`; omitted: keep the tables' current ones. */
  readonly keys?: readonly string[];
  /** A statement that changes more rows than this sends a table-wide event. Omitted: the tables' current bound, 1,000 for a new install. */
  readonly maxRows?: number;
}

export type UninstallTriggerSqlOptions = SqlTextOptions &
  (
    | {
        readonly tables: readonly TableInput[];
        readonly all?: never;
        readonly defaultSchema?: string;
        readonly channel?: string;
      }
    | { readonly all: true; readonly tables?: never; readonly channel?: string }
  );

function join(header: string, statements: readonly string[], options: SqlTextOptions): string {
  const separator = options.drizzleBreakpoints ? ";\n--> statement-breakpoint\n" : ";\n\n";
  return `${header}\n${statements.join(separator)};\n`;
}

function describeTables(refs: readonly TableRef[]): string {
  return refs.length === 0 ? "no tables" : refs.map((ref) => `${ref.schema}.${ref.table}`).join(", ");
}

/** One-line comment text that cannot end the comment early. */
function comment(text: string): string {
  return `-- ${text.replace(/[\r\n]+/g, " ")}`;
}

/**
 * The migration that installs the triggers: the same statements `installTriggers` runs, with table
 * names and channel as quoted literals. Tables are resolved when the migration runs: a missing
 * table fails it with `undefined_table`. Safe to run again.
 */
export function triggerSql(options: TriggerSqlOptions): string {
  const channel = toChannel(options.channel);
  const refs = toTableRefs(options.tables, options.defaultSchema);
  const keys = toKeyOptions(options);
  const bound =
    keys.maxRows === undefined
      ? `over ${DEFAULT_MAX_ROWS} rows (or the bound the triggers have) a statement is reported table-wide`
      : `over ${keys.maxRows} rows a statement is reported table-wide`;
  const header = [
    comment(
      `PGCacheWatch change triggers (revision ${INSTALL_REVISION}, NOTIFY payload v2 with key values) on channel ${JSON.stringify(channel)}`,
    ),
    comment(`Tables: ${describeTables(refs)}`),
    comment(
      keys.keys === undefined
        ? `Key columns: primary key and foreign keys (plus any extra columns the triggers send already); ${bound}`
        : `Key columns: primary key, foreign keys${keys.keys.length === 0 ? "" : ` and ${keys.keys.join(", ")}`}; ${bound}`,
    ),
    "-- Idempotent: running it again changes nothing. Needs PostgreSQL 12 or later.",
  ].join("\n");
  const keyArray =
    keys.keys === undefined ? "NULL" : `ARRAY[${keys.keys.map((key) => quoteLiteral(key)).join(", ")}]`;
  const calls = refs.map((ref) =>
    watchTableCall(
      quoteLiteral(ref.schema),
      quoteLiteral(ref.table),
      quoteLiteral(channel),
      keyArray,
      keys.maxRows === undefined ? "NULL" : String(keys.maxRows),
    ),
  );
  const follow = options.followNewPartitions ? [FOLLOW_PARTITIONS_STATEMENT] : [];
  return join(header, [...SETUP_STATEMENTS, ...follow, ...calls], options);
}

/**
 * The migration that removes triggers: from the named tables (and their partitions), or with
 * `all: true` every trigger PGCacheWatch installed plus its functions and schema. With `channel`,
 * only triggers sending on that channel are removed (and the functions stay).
 */
export function uninstallTriggerSql(options: UninstallTriggerSqlOptions): string {
  const channel = options.channel === undefined ? undefined : toChannel(options.channel);
  const channelLiteral = channel === undefined ? undefined : quoteLiteral(channel);
  if (options.all) {
    const header = comment(
      channel === undefined
        ? "Remove every PGCacheWatch trigger, its functions and its schema"
        : `Remove every PGCacheWatch trigger on channel ${JSON.stringify(channel)}`,
    );
    const statements = [unwatchAllCall(channelLiteral)];
    if (channel === undefined) statements.push(...TEARDOWN_STATEMENTS);
    return join(header, statements, options);
  }
  const refs = toTableRefs(options.tables, options.defaultSchema);
  const header = comment(`Remove PGCacheWatch triggers from: ${describeTables(refs)}`);
  const calls = refs.map((ref) =>
    unwatchTableCall(quoteLiteral(ref.schema), quoteLiteral(ref.table), channelLiteral),
  );
  return join(header, calls, options);
}
