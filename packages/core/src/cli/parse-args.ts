import { type ParseArgsConfig, parseArgs } from "node:util";
import { COMMANDS, type CommandName } from "./help.js";
import { UsageError } from "./usage-error.js";

export interface CommonFlags {
  readonly url: string | undefined;
  readonly channel: string | undefined;
  readonly verbose: boolean;
}

/** The command's own options, as parseArgs returned them. */
export type CommandFlags = Readonly<Record<string, unknown>>;

export function booleanFlag(flags: CommandFlags, name: string): boolean {
  return flags[name] === true;
}

export function stringsFlag(flags: CommandFlags, name: string): string[] {
  const value = flags[name];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === "string");
  return typeof value === "string" ? [value] : [];
}

export type ParsedCommandLine =
  | { readonly kind: "help"; readonly command?: CommandName }
  /** No command at all: the overview goes to stderr with the usage exit code. */
  | { readonly kind: "missing-command" }
  | { readonly kind: "version" }
  | {
      readonly kind: "run";
      readonly command: CommandName;
      readonly common: CommonFlags;
      readonly positionals: readonly string[];
      readonly flags: CommandFlags;
    };

const COMMON = {
  url: { type: "string" },
  channel: { type: "string" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const COMMAND_OPTIONS = {
  install: {
    schema: { type: "string", multiple: true },
    "all-tables": { type: "boolean" },
    "follow-partitions": { type: "boolean" },
    keys: { type: "string", multiple: true },
    "max-rows": { type: "string" },
  },
  uninstall: { schema: { type: "string", multiple: true }, all: { type: "boolean" } },
  status: { json: { type: "boolean" } },
  sql: {
    schema: { type: "string", multiple: true },
    "all-tables": { type: "boolean" },
    uninstall: { type: "boolean" },
    all: { type: "boolean" },
    drizzle: { type: "boolean" },
    "follow-partitions": { type: "boolean" },
    keys: { type: "string", multiple: true },
    "max-rows": { type: "string" },
  },
  watch: { json: { type: "boolean" } },
  secret: {},
  wal: {
    schema: { type: "string", multiple: true },
    "all-tables": { type: "boolean" },
    publication: { type: "string" },
    slot: { type: "string" },
    "replica-identity": { type: "string" },
    columns: { type: "string", multiple: true },
    json: { type: "boolean" },
  },
} as const;

function isCommand(value: string): value is CommandName {
  return (COMMANDS as readonly string[]).includes(value);
}

/** What parseArgs says, reworded for a person ("Unknown option '--x'" is fine; its hints about `--` are not). */
function usageFrom(error: unknown, command: CommandName): UsageError {
  const message = error instanceof Error ? error.message : String(error);
  return new UsageError(message.split(". To specify")[0] ?? message, command);
}

export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: "missing-command" };
  if (first === "-h" || first === "--help") return { kind: "help" };
  if (first === "--version" || first === "-v") return { kind: "version" };
  if (first === "help") {
    const topic = rest[0];
    if (topic === undefined) return { kind: "help" };
    if (!isCommand(topic)) throw new UsageError(`unknown command ${JSON.stringify(topic)}`);
    return { kind: "help", command: topic };
  }
  if (first.startsWith("-")) throw new UsageError(`expected a command before ${first}`);
  if (!isCommand(first)) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
  let parsed: { values: CommandFlags; positionals: string[] };
  try {
    const options: NonNullable<ParseArgsConfig["options"]> = { ...COMMON, ...COMMAND_OPTIONS[first] };
    parsed = parseArgs({
      args: rest,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw usageFrom(error, first);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: "help", command: first };
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === "string" ? value : undefined;
  };
  return {
    kind: "run",
    command: first,
    common: { url: text("url"), channel: text("channel"), verbose: values.verbose === true },
    positionals,
    flags: values,
  };
}
