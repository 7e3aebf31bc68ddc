import type { ParseResult } from "@pgsql/types";
import { loadModule, parseSync } from "libpg-query";
import { ParserNotLoadedError } from "./errors.js";

let loading: Promise<void> | undefined;
let loaded = false;

/** Load PostgreSQL's parser (WebAssembly) once per process; later calls share the first load. */
export function loadSqlParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

export type ParseOutcome =
  | { readonly ok: true; readonly result: ParseResult }
  | { readonly ok: false; readonly message: string };

/** Parse with PostgreSQL's own grammar. Needs {@link loadSqlParser} to have finished; never throws for bad SQL. */
export function parseSql(sql: string): ParseOutcome {
  if (!loaded) throw new ParserNotLoadedError();
  try {
    return { ok: true, result: parseSync(sql) };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}
