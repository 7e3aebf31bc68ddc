import { DEFAULT_PUBLICATION } from "../sources/wal/publication.js";
import { DEFAULT_CHANNEL } from "../triggers/definitions.js";

export const COMMANDS = ["install", "uninstall", "status", "sql", "watch", "wal", "secret"] as const;
export type CommandName = (typeof COMMANDS)[number];

const COMMON_OPTIONS = `Connection: --url, else DATABASE_URL, else the standard PG* variables
(PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ...). A connection string is a postgres:// URL
or libpq key=value text (host=... port=... dbname=... user=... password=... sslmode=...).

Options for every command:
  --url <url>         postgres://user:password@host:port/database
  --channel <name>    NOTIFY channel (default: ${DEFAULT_CHANNEL})
  --verbose           show stack traces with errors
  -h, --help          show help`;

const TABLE_NAMES = `Table names: users, audit.log (schema.table), "Order.Items" (double quotes keep a
dot in a name). Names are case-sensitive and taken as written: MyTable is not mytable.`;

export const MAIN_HELP = `pgcachewatch: manage PGCacheWatch's change triggers and watch change events

Usage: pgcachewatch <command> [options]

Commands:
  install <table...>        install change triggers on tables (safe to run again)
  uninstall <table...>      remove them (--all: everything pgcachewatch installed)
  status                    show watched tables, channels and NOTIFY queue usage
  sql <table...>            print the migration SQL instead of running it
  watch                     print change events as they arrive (Ctrl-C to stop)
  wal setup|status|drop     manage the logical replication source's publication and slots
  secret                    print the secret the triggers sign notifications with (eventSecret)

Run pgcachewatch <command> --help for a command's options.

${COMMON_OPTIONS}
  --version           print the version

${TABLE_NAMES}

Exit codes: 0 success, 1 error, 2 usage error.
`;

export const COMMAND_HELP: Readonly<Record<CommandName, string>> = {
  install: `Usage: pgcachewatch install <table...> [options]
       pgcachewatch install --all-tables [--schema <name>...] [options]

Installs schema pgcachewatch (one trigger function and its helpers) and, on each table,
statement-level AFTER INSERT, UPDATE and DELETE triggers with transition tables that NOTIFY the
channel with the changed rows' key values (primary key, foreign keys, --keys), and a TRUNCATE
trigger (table-wide). A partitioned table gets them on every partition too. Every table is
checked first: an unknown table changes nothing. Running it again changes nothing, upgrades
tables installed by an older version, and covers partitions added since (or use
--follow-partitions).

Options:
  --schema <name>     schema for names without one (default: public); with --all-tables,
                      the schemas to cover (repeatable)
  --all-tables        every table in those schemas
  --follow-partitions also install an event trigger that puts the trigger on partitions
                      created or attached later (needs a superuser)
  --keys <col,...>    also send these columns' values (repeatable); without it, the extra
                      columns the tables' triggers send already are kept
  --max-rows <n>      a statement changing more rows sends a table-wide event (default 1000)

${COMMON_OPTIONS}

${TABLE_NAMES}
`,
  uninstall: `Usage: pgcachewatch uninstall <table...> [options]
       pgcachewatch uninstall --all [options]

Removes the triggers pgcachewatch installed on the tables (and their partitions). With --all,
removes every pgcachewatch trigger, then its functions and schema. With --channel, only triggers
sending on that channel are removed (and the functions stay). Nothing else is touched.

Options:
  --schema <name>     schema for names without one (default: public)
  --all               everything pgcachewatch installed

${COMMON_OPTIONS}

${TABLE_NAMES}
`,
  secret: `Usage: pgcachewatch secret [options]

Prints the per-install secret the triggers sign notifications with (HMAC-SHA256), for the
engine's eventSecret option: with it the listener drops notifications nobody signed (any role
that can connect may NOTIFY). Only the role that installed the triggers, or a superuser, can
read it. Keep it out of logs; pass it through your secret store.

${COMMON_OPTIONS}
`,
  status: `Usage: pgcachewatch status [options]

Shows whether the trigger function is installed, every watched table with its channel and
the key columns its triggers send, tables still on the table-wide triggers of an older
version (with the install command that upgrades them), partitions of watched tables that have
no trigger yet, and pg_notification_queue_usage().
With --channel, only tables on that channel.

Options:
  --json              print the status as JSON

${COMMON_OPTIONS}
`,
  sql: `Usage: pgcachewatch sql <table...> [options]
       pgcachewatch sql --uninstall (<table...> | --all) [options]

Prints the migration that install (or uninstall) would run, for drizzle-kit, prisma migrate,
Kysely or any migration tool. Needs no connection, except with --all-tables.

Options:
  --schema <name>     schema for names without one (default: public); with --all-tables,
                      the schemas to cover (repeatable)
  --all-tables        every table in those schemas (connects to list them)
  --uninstall         print the down migration
  --all               with --uninstall: remove everything pgcachewatch installed
  --drizzle           separate statements with drizzle-kit's --> statement-breakpoint
  --follow-partitions include the event trigger for partitions created later (the
                      migration must then run as a superuser)
  --keys <col,...>    also send these columns' values (as with install)
  --max-rows <n>      a statement changing more rows sends a table-wide event (default 1000)

${COMMON_OPTIONS}

${TABLE_NAMES}
`,
  watch: `Usage: pgcachewatch watch [options]

LISTENs on the channel and prints one line per change event:
  <time received>  <schema.table>  <operation>  <latency>
The latency is measured from the start of the writing transaction (the trigger sends
transaction_timestamp()) to the moment the event arrived, so it includes the transaction's own
duration and any clock difference between the database server and this machine.
Ctrl-C stops.

Options:
  --json              print each event as a JSON object

${COMMON_OPTIONS}
`,
  wal: `Usage: pgcachewatch wal setup <table...> [--slot <name>] [--replica-identity full] [options]
       pgcachewatch wal setup --all-tables [options]
       pgcachewatch wal status [--json] [options]
       pgcachewatch wal drop [--slot <name>] [options]

For the logical replication (WAL) change source, which needs no triggers.
  setup    creates the publication for the tables, or adds the missing ones (safe to run again;
           tables already in it stay). Every table needs a primary key or a replica identity:
           PostgreSQL rejects UPDATE and DELETE on a published table without one. With --slot,
           also creates that permanent slot (for the source's permanentSlot option). With
           --replica-identity full, sets REPLICA IDENTITY FULL on the published tables (and their
           partitions) that lack it: without it an UPDATE or DELETE carries the old key columns
           only, so entries constrained on other columns are invalidated at each such event.
           Warns about server settings that would stop the source (wal_level, REPLICATION, slots).
  status   shows wal_level, the role's REPLICATION privilege, slot and WAL sender usage, the
           publication's tables and their replica identity, this database's pgoutput slots
           with the WAL they retain, and what would stop the source from starting, with the fix.
  drop     drops the publication and, with --slot, that permanent slot (it must not be in use).
           Temporary slots vanish with their connection.

Options:
  --publication <name>  publication (default: ${DEFAULT_PUBLICATION})
  --slot <name>         a permanent slot: lowercase letters, digits and underscores
  --schema <name>       schema for table names without one (default: public)
  --all-tables          setup: FOR ALL TABLES (every table of the database; needs a superuser)
  --columns <a,b>       setup: publish only the tables' key columns and these (a column list,
                        PostgreSQL 15+): less for the walsender to decode and send when a
                        wide column is rewritten often; entries constrained on a column left
                        out are dropped by every event on its table. Not with FULL identity
  --replica-identity full  setup: REPLICA IDENTITY FULL on the published tables (more WAL per
                        UPDATE and DELETE, old values of every column for invalidation)
  --json                status: print it as JSON

${COMMON_OPTIONS}

${TABLE_NAMES}
`,
};
