import { redactSecrets } from "../connection-string.js";
import { InvalidTableNameError, PgCacheWatchError } from "../errors.js";
import { toChannel } from "../triggers/channel.js";
import { InvalidChannelError } from "../triggers/errors.js";
import type { CliIo } from "./cli-io.js";
import type { CommandContext } from "./commands/context.js";
import { installCommand } from "./commands/install.js";
import { secretCommand } from "./commands/secret.js";
import { sqlCommand } from "./commands/sql.js";
import { statusCommand } from "./commands/status.js";
import { uninstallCommand } from "./commands/uninstall.js";
import { walCommand } from "./commands/wal.js";
import { watchCommand } from "./commands/watch.js";
import { COMMAND_HELP, type CommandName, MAIN_HELP } from "./help.js";
import { parseCommandLine } from "./parse-args.js";
import { UsageError } from "./usage-error.js";
import { packageVersion } from "./version.js";

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

const COMMAND_RUNNERS: Readonly<Record<CommandName, (context: CommandContext) => Promise<number>>> = {
  install: installCommand,
  uninstall: uninstallCommand,
  status: statusCommand,
  sql: sqlCommand,
  watch: watchCommand,
  wal: walCommand,
  secret: secretCommand,
};

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const hint = (error as { hint?: unknown }).hint;
  return typeof hint === "string" && hint.length > 0 ? `${error.message}\nhint: ${hint}` : error.message;
}

function stackOf(error: unknown): string {
  if (!(error instanceof Error)) return "";
  let text = error.stack ?? "";
  if (error.cause !== undefined) text += `\ncaused by: ${stackOf(error.cause) || String(error.cause)}`;
  return text;
}

/** Connection strings the command line may carry: `--url X`, `--url=X`, DATABASE_URL. */
function connectionStringsIn(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const found: string[] = [];
  argv.forEach((arg, index) => {
    if (arg === "--url" && argv[index + 1] !== undefined) found.push(argv[index + 1] as string);
    else if (arg.startsWith("--url=")) found.push(arg.slice("--url=".length));
  });
  if (env.DATABASE_URL) found.push(env.DATABASE_URL);
  return found;
}

/** Whatever an error says, never print a password from the command line or the environment. */
function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((result, connectionString) => redactSecrets(result, connectionString), text);
}

/** Run one `pgcachewatch` command line; resolves to the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let command: CommandName | undefined;
  const verbose = argv.includes("--verbose");
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === "help") {
      io.stdout(parsed.command === undefined ? MAIN_HELP : COMMAND_HELP[parsed.command]);
      return EXIT_OK;
    }
    if (parsed.kind === "missing-command") {
      io.stderr(MAIN_HELP);
      return EXIT_USAGE;
    }
    if (parsed.kind === "version") {
      io.stdout(`${packageVersion()}\n`);
      return EXIT_OK;
    }
    command = parsed.command;
    if (parsed.common.channel !== undefined) toChannel(parsed.common.channel);
    return await COMMAND_RUNNERS[parsed.command]({
      io,
      common: parsed.common,
      positionals: parsed.positionals,
      flags: parsed.flags,
    });
  } catch (error) {
    const usage =
      error instanceof UsageError ||
      error instanceof InvalidTableNameError ||
      error instanceof InvalidChannelError;
    const secrets = connectionStringsIn(argv, io.env);
    io.stderr(`pgcachewatch: ${scrub(describeError(error), secrets)}\n`);
    if (usage) {
      const helpCommand = error instanceof UsageError ? (error.command ?? command) : command;
      io.stderr(
        `Run 'pgcachewatch ${helpCommand === undefined ? "" : `${helpCommand} `}--help' for usage.\n`,
      );
    } else if (verbose) {
      io.stderr(`${scrub(stackOf(error), secrets)}\n`);
    } else if (!(error instanceof PgCacheWatchError)) {
      io.stderr("(run with --verbose for details)\n");
    }
    return usage ? EXIT_USAGE : EXIT_ERROR;
  }
}
