import { TriggerConflictError, TriggerPermissionError, UnknownColumnError } from "./errors.js";

interface DatabaseErrorLike {
  code?: unknown;
  message: string;
}

function sqlState(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as DatabaseErrorLike).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Turn the PostgreSQL errors a user can act on into typed errors; everything else passes through. */
export async function withTypedErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const state = sqlState(error);
    const message = error instanceof Error ? error.message : String(error);
    if (state === "42501") {
      const needs = message.includes("event trigger")
        ? "following new partitions needs a superuser"
        : "installing needs CREATE on the database for schema pgcachewatch, or an existing schema, and ownership of each table";
      throw new TriggerPermissionError(`permission denied: ${message} (${needs})`, { cause: error });
    }
    if (state === "42710" && message.startsWith("pgcachewatch:")) {
      throw new TriggerConflictError(message.slice("pgcachewatch: ".length), { cause: error });
    }
    if (state === "42703" && message.startsWith("pgcachewatch:")) {
      throw new UnknownColumnError(message.slice("pgcachewatch: ".length), { cause: error });
    }
    throw error;
  }
}
