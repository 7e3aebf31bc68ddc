import type { DatabaseConnection } from "kysely";

/** What a session statement changed of the two settings that are part of every key. */
type IdentitySetting = "role" | "search_path";

const SET = /^\s*set\s+(?:session\s+|local\s+)?(role|search_path|session\s+authorization)\b/i;
const RESET = /^\s*reset\s+(role|search_path|session\s+authorization|all)\b/i;
const DISCARD_ALL = /^\s*discard\s+all\b/i;
const SET_CONFIG = /\bset_config\s*\(\s*'(role|search_path)'/i;

/**
 * Pool connections whose role or search_path a statement changed (`SET ROLE`, `SET search_path`,
 * `set_config('search_path', ...)`): until it is reset, a read on such a connection is not stored
 * under the pool's identity, where every other request would get it. Such a change outlives the
 * request that made it (the connection goes back to the pool with it).
 */
export class SessionChanges {
  readonly #changed = new WeakMap<DatabaseConnection, Set<IdentitySetting>>();

  /** Note what a raw statement does to its connection's identity. */
  observe(connection: DatabaseConnection, sql: string): void {
    const set = SET.exec(sql)?.[1] ?? SET_CONFIG.exec(sql)?.[1];
    if (set !== undefined) {
      const settings = this.#changed.get(connection) ?? new Set<IdentitySetting>();
      settings.add(setting(set));
      this.#changed.set(connection, settings);
      return;
    }
    const reset = RESET.exec(sql)?.[1];
    if (reset === undefined && !DISCARD_ALL.test(sql)) return;
    const settings = this.#changed.get(connection);
    if (settings === undefined) return;
    if (reset === undefined || reset.toLowerCase() === "all") settings.clear();
    else settings.delete(setting(reset));
    if (settings.size === 0) this.#changed.delete(connection);
  }

  /** Whether `connection` runs with another role or search_path than its pool's. */
  changed(connection: DatabaseConnection): boolean {
    return this.#changed.has(connection);
  }
}

function setting(name: string): IdentitySetting {
  return name.toLowerCase() === "search_path" ? "search_path" : "role";
}
