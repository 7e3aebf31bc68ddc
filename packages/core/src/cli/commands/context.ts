import type { CliIo } from "../cli-io.js";
import type { CommandFlags, CommonFlags } from "../parse-args.js";

export interface CommandContext {
  readonly io: CliIo;
  readonly common: CommonFlags;
  readonly positionals: readonly string[];
  readonly flags: CommandFlags;
}
