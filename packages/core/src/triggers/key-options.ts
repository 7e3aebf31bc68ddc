import { InvalidOptionError } from "../errors.js";
import { MAX_MAX_ROWS } from "./definitions.js";

/** PostgreSQL's NAMEDATALEN - 1. */
const MAX_IDENTIFIER_BYTES = 63;

export interface KeyOptions {
  /** Extra key columns; undefined: keep what the triggers send already. */
  readonly keys: readonly string[] | undefined;
  /** Row bound; undefined: keep the triggers' bound (1,000 for a new install). */
  readonly maxRows: number | undefined;
}

/** Check `keys` and `maxRows` before anything reaches the database (column names are data there). */
export function toKeyOptions(options: {
  readonly keys?: readonly string[];
  readonly maxRows?: number;
}): KeyOptions {
  const maxRows = options.maxRows;
  if (maxRows !== undefined && (!Number.isInteger(maxRows) || maxRows < 1 || maxRows > MAX_MAX_ROWS)) {
    throw new InvalidOptionError("maxRows", `must be an integer from 1 to ${MAX_MAX_ROWS}`);
  }
  if (options.keys === undefined) return { keys: undefined, maxRows };
  const keys: string[] = [];
  for (const key of options.keys) {
    if (typeof key !== "string" || key.length === 0)
      throw new InvalidOptionError("keys", "column names must be non-empty strings");
    if (key.includes("\u0000"))
      throw new InvalidOptionError("keys", "a column name cannot contain a NUL byte");
    if (Buffer.byteLength(key, "utf8") > MAX_IDENTIFIER_BYTES)
      throw new InvalidOptionError("keys", `column name longer than ${MAX_IDENTIFIER_BYTES} bytes`);
    if (!keys.includes(key)) keys.push(key);
  }
  return { keys, maxRows };
}
