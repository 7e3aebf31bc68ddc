import { PgCacheWatchError } from "../errors.js";

/** Bad command-line usage: exit code 2, and a pointer to `--help`. */
export class UsageError extends PgCacheWatchError {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super("USAGE", message);
    this.command = command;
  }
}
