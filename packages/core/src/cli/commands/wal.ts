import { type TableRef, toTableRef } from "../../events/table-name.js";
import { type WalStatus, walDrop, walSetup, walStatus } from "../../sources/wal/operations.js";
import { DEFAULT_PUBLICATION } from "../../sources/wal/publication.js";
import { displayTable } from "../cli-table-name.js";
import { openClient } from "../connection.js";
import { booleanFlag, type CommandFlags, stringsFlag } from "../parse-args.js";
import { UsageError } from "../usage-error.js";
import type { CommandContext } from "./context.js";
import { tableArguments } from "./table-args.js";

const SUBCOMMANDS = ["setup", "status", "drop"] as const;

function textFlag(flags: CommandFlags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === "string" ? value : undefined;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function formatBytes(bytes: number | null): string {
  if (bytes === null) return "-";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  return rows.map((row) =>
    `  ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")}`.trimEnd(),
  );
}

/** The human-readable status, as `pgcachewatch wal status` prints it. */
export function formatWalStatus(status: WalStatus): string {
  const { settings, publication } = status;
  const lines: string[] = [];
  lines.push(
    `wal_level:     ${settings.walLevel}${settings.walLevel === "logical" ? "" : " (needs logical)"}`,
  );
  lines.push(
    `role:          ${settings.role} (${settings.canReplicate ? "may replicate" : "no REPLICATION privilege"})`,
  );
  lines.push(`slots:         ${settings.usedReplicationSlots} of ${settings.maxReplicationSlots} used`);
  lines.push(`WAL senders:   ${settings.usedWalSenders} of ${settings.maxWalSenders} used`);
  if (!publication.exists) {
    lines.push(`publication:   ${publication.name} does not exist (pgcachewatch wal setup <table...>)`);
  } else if (publication.allTables) {
    lines.push(`publication:   ${publication.name}, FOR ALL TABLES (${publication.publishes.join(", ")})`);
  } else {
    lines.push(
      `publication:   ${publication.name}, ${plural(publication.tables.length, "table")} (${publication.publishes.join(", ")})`,
    );
    for (const table of publication.tables) lines.push(`  ${displayTable(table)}`);
  }
  if (publication.exists) lines.push(...replicaIdentityLines(status));
  if (status.slots.length === 0) {
    lines.push("pgoutput slots in this database: none");
  } else {
    lines.push("pgoutput slots in this database:");
    lines.push(
      ...columns([
        ["NAME", "KIND", "ACTIVE", "RETAINED WAL", "WAL STATUS"],
        ...status.slots.map((slot) => [
          slot.name,
          slot.temporary ? "temporary" : "permanent",
          slot.active ? `pid ${slot.activePid}` : "no",
          formatBytes(slot.retainedBytes),
          slot.walStatus ?? "-",
        ]),
      ]),
    );
    const idle = status.slots.filter((slot) => !slot.active && !slot.temporary);
    if (idle.length > 0) {
      lines.push(`inactive permanent slots hold WAL back until dropped: pgcachewatch wal drop --slot <name>`);
    }
  }
  if (status.problems.length === 0) {
    lines.push("ready:         yes, the WAL source can start here");
  } else {
    lines.push("ready:         no");
    for (const problem of status.problems) lines.push(`  - ${problem.replaceAll("\n", "\n    ")}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Which published tables have REPLICA IDENTITY FULL. Without it an UPDATE or DELETE carries the
 * old values of the key columns only, so entries constrained on other columns of that table are
 * invalidated (table-wide for those columns) at each such event.
 */
function replicaIdentityLines(status: WalStatus): string[] {
  const identities = status.replicaIdentities;
  if (identities.length === 0) return [];
  const lines = ["replica identity (FULL sends old values of every column on UPDATE and DELETE):"];
  lines.push(
    ...columns([
      ["TABLE", "IDENTITY"],
      ...identities.map((table) => [
        table.partitionOf
          ? `${displayTable(table)} (partition of ${displayTable(table.partitionOf)})`
          : displayTable(table),
        table.identity.toUpperCase(),
      ]),
    ]),
  );
  const notFull = identities.filter((table) => table.identity !== "full").length;
  if (notFull > 0) {
    lines.push(
      `  ${plural(notFull, "table")} without FULL: an UPDATE or DELETE there invalidates the entries constrained on non-key columns; ` +
        `pgcachewatch wal setup <table...> --replica-identity full sets it`,
    );
  }
  return lines;
}

export async function walCommand({ io, common, positionals, flags }: CommandContext): Promise<number> {
  const [subcommand, ...rest] = positionals;
  if (subcommand === undefined) throw new UsageError("name a subcommand: setup, status or drop", "wal");
  if (!(SUBCOMMANDS as readonly string[]).includes(subcommand)) {
    throw new UsageError(
      `unknown wal subcommand ${JSON.stringify(subcommand)} (setup, status or drop)`,
      "wal",
    );
  }
  const publication = textFlag(flags, "publication") ?? DEFAULT_PUBLICATION;
  if (publication.length === 0) throw new UsageError("--publication must not be empty", "wal");
  const slot = textFlag(flags, "slot");
  const allTables = booleanFlag(flags, "all-tables");
  if (subcommand !== "setup") {
    if (rest.length > 0) throw new UsageError(`wal ${subcommand} takes no table names`, "wal");
    if (allTables) throw new UsageError(`--all-tables applies to wal setup only`, "wal");
  }
  if (subcommand === "status" && slot !== undefined)
    throw new UsageError("--slot applies to setup and drop", "wal");
  const columnNames = stringsFlag(flags, "columns").flatMap((value) =>
    value
      .split(",")
      .map((column) => column.trim())
      .filter((column) => column !== ""),
  );
  const columnsGiven = flags.columns !== undefined;
  if (columnsGiven && (subcommand !== "setup" || allTables))
    throw new UsageError("--columns applies to wal setup with table names only", "wal");
  const replicaIdentity = textFlag(flags, "replica-identity");
  if (columnsGiven && replicaIdentity !== undefined)
    throw new UsageError(
      "--columns and --replica-identity full do not go together: with FULL a column list must name every column",
      "wal",
    );
  if (replicaIdentity !== undefined && subcommand !== "setup")
    throw new UsageError("--replica-identity applies to wal setup only", "wal");
  if (replicaIdentity !== undefined && replicaIdentity !== "full")
    throw new UsageError(
      `--replica-identity takes "full" (got ${JSON.stringify(replicaIdentity)}); other identities are set with ALTER TABLE`,
      "wal",
    );

  let tables: TableRef[] | undefined;
  if (subcommand === "setup" && !allTables) {
    const args = tableArguments("wal", rest, flags, "all-tables");
    if (!args.all) tables = args.tables.map((t) => toTableRef(t, args.defaultSchema));
  } else if (subcommand === "setup" && (rest.length > 0 || stringsFlag(flags, "schema").length > 0)) {
    throw new UsageError(
      "--all-tables publishes every table of the database: give no table names or --schema",
      "wal",
    );
  }

  const client = await openClient(common, io.env);
  try {
    if (subcommand === "status") {
      const status = await walStatus({ client, publication });
      io.stdout(
        booleanFlag(flags, "json") ? `${JSON.stringify(status, null, 2)}\n` : formatWalStatus(status),
      );
      return 0;
    }
    if (subcommand === "setup") {
      const result = await walSetup({
        client,
        publication,
        ...(tables ? { tables } : { allTables: true }),
        ...(slot === undefined ? {} : { permanentSlot: slot }),
        ...(replicaIdentity === "full" ? { replicaIdentityFull: true } : {}),
        ...(columnsGiven ? { columns: columnNames } : {}),
      });
      if (result.publication.allTables) {
        io.stdout(
          `publication ${publication}: FOR ALL TABLES (${result.publicationCreated ? "created" : "already in place"})\n`,
        );
      } else {
        const what = result.publicationCreated
          ? "created"
          : result.tablesAdded.length > 0
            ? `${plural(result.tablesAdded.length, "table")} added`
            : "already in place, nothing changed";
        io.stdout(
          `publication ${publication}: ${plural(result.publication.tables.length, "table")} (${what})\n`,
        );
        for (const table of result.publication.tables) io.stdout(`  ${displayTable(table)}\n`);
      }
      if (columnsGiven) {
        io.stdout(
          `column lists: ${result.columnListsChanged.length === 0 ? "already in place" : `set on ${plural(result.columnListsChanged.length, "table")}`}\n`,
        );
        for (const table of result.columnListsChanged) io.stdout(`  ${displayTable(table)}\n`);
      }
      if (replicaIdentity === "full") {
        io.stdout(
          `replica identity FULL: ${result.replicaIdentityChanged.length === 0 ? "already on every published table" : `set on ${plural(result.replicaIdentityChanged.length, "table")}`}\n`,
        );
        for (const table of result.replicaIdentityChanged) io.stdout(`  ${displayTable(table)}\n`);
      }
      if (slot !== undefined)
        io.stdout(`slot ${slot}: ${result.slotCreated ? "created" : "already exists"}\n`);
      for (const problem of result.problems) io.stderr(`warning: ${problem}\n`);
      return 0;
    }
    const result = await walDrop({
      client,
      publication,
      ...(slot === undefined ? {} : { permanentSlot: slot }),
    });
    io.stdout(`publication ${publication}: ${result.publicationDropped ? "dropped" : "did not exist"}\n`);
    if (slot !== undefined) io.stdout(`slot ${slot}: ${result.slotDropped ? "dropped" : "did not exist"}\n`);
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}
