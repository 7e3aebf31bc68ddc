import { type CommandFlags, stringsFlag } from "../parse-args.js";
import { UsageError } from "../usage-error.js";

/** `--keys a,b` (repeatable) and `--max-rows n`, as install options. Names are taken literally. */
export function keyArguments(
  command: string,
  flags: CommandFlags,
): { keys?: readonly string[]; maxRows?: number } {
  const given = stringsFlag(flags, "keys");
  const keys = given.flatMap((text) => text.split(",")).map((name) => name.trim());
  if (keys.some((name) => name.length === 0)) throw new UsageError("--keys takes column names: a,b", command);
  const maxRowsText = flags["max-rows"];
  let maxRows: number | undefined;
  if (typeof maxRowsText === "string") {
    if (!/^[1-9][0-9]{0,8}$/.test(maxRowsText))
      throw new UsageError("--max-rows takes a whole number from 1 to 100000000", command);
    maxRows = Number(maxRowsText);
  }
  return {
    ...(given.length > 0 ? { keys } : {}),
    ...(maxRows === undefined ? {} : { maxRows }),
  };
}
