import { type TriggerClient, withConnection } from "./client.js";
import { SECRET_TABLE } from "./definitions.js";
import { EventSecretUnavailableError } from "./errors.js";

/**
 * The secret the installed triggers sign notifications with, for the engine's `eventSecret`
 * option. Only the role that installed the triggers (and superusers) may read it.
 */
export async function readEventSecret(client: TriggerClient): Promise<string> {
  return withConnection(client, async (connection) => {
    try {
      const { rows } = await connection.query<{ secret: string }>(
        `SELECT secret FROM ${SECRET_TABLE} WHERE id`,
      );
      const secret = rows[0]?.secret;
      if (secret === undefined)
        throw new EventSecretUnavailableError(`${SECRET_TABLE} is empty: run install again`);
      return secret;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "42P01" || code === "3F000") {
        throw new EventSecretUnavailableError(
          "the triggers are not installed, or an older revision without signed notifications is: run pgcachewatch install",
          { cause: error },
        );
      }
      if (code === "42501") {
        throw new EventSecretUnavailableError(
          "permission denied: only the role that installed the triggers (or a superuser) can read it",
          { cause: error },
        );
      }
      throw error;
    }
  });
}
