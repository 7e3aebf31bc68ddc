import { PgCacheWatchError } from "../../errors.js";

/** A command could not do what was asked for a reason the message explains (exit code 1). */
export class CommandFailedError extends PgCacheWatchError {
  constructor(message: string) {
    super("COMMAND_FAILED", message);
  }
}
