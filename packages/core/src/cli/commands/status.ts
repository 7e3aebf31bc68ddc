import { type TriggerStatus, triggerStatus } from "../../triggers/status.js";
import { displayTable } from "../cli-table-name.js";
import { openClient } from "../connection.js";
import { booleanFlag } from "../parse-args.js";
import type { CommandContext } from "./context.js";

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function kindText(table: TriggerStatus["tables"][number]): string {
  if (table.kind === "partition" && table.partitionOf)
    return `partition of ${displayTable(table.partitionOf)}`;
  return table.kind;
}

function keysText(table: TriggerStatus["tables"][number]): string {
  if (table.layout === "table-wide") return "table-wide (revision 1-2)";
  if (table.layout === "partial") return "incomplete: run install";
  const columns = table.keyColumns ?? [];
  return columns.length === 0 ? "none (no key)" : columns.map((column) => displayColumn(column)).join(",");
}

/** A column name as the terminal may show it: quoted if not plain, control characters escaped. */
function displayColumn(name: string): string {
  return displayTable({ schema: "x", table: name }).slice(2);
}

/** The human-readable status, as `pgcachewatch status` prints it. */
export function formatStatus(status: TriggerStatus, channel: string | undefined): string {
  const lines: string[] = [];
  const usage = `${(status.notificationQueueUsage * 100).toFixed(2)}% used`;
  if (!status.installed) {
    lines.push("triggers:      not installed (pgcachewatch install <table...>)");
    lines.push(`NOTIFY queue:  ${usage}`);
    return `${lines.join("\n")}\n`;
  }
  const revision =
    status.revision === null
      ? "unknown revision"
      : status.current
        ? `revision ${status.revision}`
        : `revision ${status.revision}, older than this version's: run install again to upgrade`;
  lines.push(`triggers:      installed in schema pgcachewatch (${revision})`);
  lines.push(`NOTIFY queue:  ${usage}`);
  lines.push(
    status.followsNewPartitions
      ? "partitions:    new partitions get the trigger automatically (event trigger)"
      : "partitions:    new partitions need install again (or install --follow-partitions)",
  );
  lines.push(
    `watched:       ${plural(status.tables.length, "table")}${channel === undefined ? "" : ` on channel ${channel}`}`,
  );
  if (status.tables.length > 0) {
    const rows = status.tables.map((table) => [
      displayTable(table),
      kindText(table),
      table.channel,
      keysText(table),
      table.active ? "" : "DISABLED",
    ]);
    const header = ["TABLE", "KIND", "CHANNEL", "KEYS", ""];
    const widths = header.map((title, column) =>
      Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
    );
    lines.push("");
    for (const row of [header, ...rows]) {
      lines.push(`  ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")}`.trimEnd());
    }
  }
  if (status.upgrades.length > 0) {
    const count = status.upgrades.reduce((sum, upgrade) => sum + upgrade.tables.length, 0);
    lines.push("");
    lines.push(
      `${plural(count, "table")} still on the table-wide triggers of revisions 1 and 2 (no row keys); upgrade with:`,
    );
    for (const upgrade of status.upgrades) lines.push(`  ${upgrade.command}`);
  }
  if (status.unwatchedPartitions.length > 0) {
    lines.push("");
    lines.push(
      `${plural(status.unwatchedPartitions.length, "partition")} of watched tables without a trigger (created or attached after install); writes made directly to them are missed until you run install again:`,
    );
    for (const partition of status.unwatchedPartitions) {
      lines.push(
        `  ${displayTable(partition)} (partition of ${displayTable(partition.partitionOf)}): pgcachewatch install ${displayTable(partition.partitionOf)} --channel ${partition.channel}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export async function statusCommand({ io, common, flags }: CommandContext): Promise<number> {
  const client = await openClient(common, io.env);
  try {
    const status = await triggerStatus(
      client,
      common.channel === undefined ? {} : { channel: common.channel },
    );
    if (booleanFlag(flags, "json")) {
      io.stdout(`${JSON.stringify(status, null, 2)}\n`);
    } else {
      io.stdout(formatStatus(status, common.channel));
    }
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}
