/**
 * Who a driver adapter factory connects as and how its connections resolve names: the role, host,
 * port and database (never the password), and the search_path its pool sets
 * (`options: "-c search_path=..."`, in the config or the connection string). Two clients that
 * connect as different roles (column privileges, role-level defaults) or with different
 * search_paths (same SQL text, other tables) must not share cached results; the search_path also
 * tells the analyzer what unqualified names in raw SQL mean.
 */
export interface ConnectionIdentity {
  /** Part of every key made through this factory's clients ("" when the factory's shape is unknown). */
  readonly key: string;
  readonly searchPath: string | undefined;
}

const UNKNOWN: ConnectionIdentity = { key: "", searchPath: undefined };

/** Read from `PrismaPg`'s pool configuration (`factory.config`: its pg.Pool options). */
export function connectionIdentity(factory: unknown): ConnectionIdentity {
  const config = (factory as { config?: unknown } | null)?.config;
  if (typeof config !== "object" || config === null) return UNKNOWN;
  const c = config as Record<string, unknown>;
  let url: URL | undefined;
  if (typeof c.connectionString === "string") {
    try {
      url = new URL(c.connectionString);
    } catch {
      url = undefined;
    }
  }
  const text = (value: unknown) =>
    typeof value === "string" || typeof value === "number" ? String(value) : "";
  const user = text(c.user) || decodeURIComponent(url?.username ?? "") || process.env.PGUSER || "";
  const host = text(c.host) || url?.hostname || process.env.PGHOST || "";
  const port = text(c.port) || url?.port || process.env.PGPORT || "";
  const database =
    text(c.database) || decodeURIComponent(url?.pathname.slice(1) ?? "") || process.env.PGDATABASE || "";
  // pg takes the config's `options`, else the connection string's, else PGOPTIONS.
  const options = text(c.options) || url?.searchParams.get("options") || process.env.PGOPTIONS || "";
  const searchPath = searchPathOption(options);
  return {
    key: JSON.stringify([user, host, port, database, searchPath ?? null]),
    searchPath,
  };
}

/** `-c search_path=a,b` / `--search_path=a,b`; the last one wins, as PostgreSQL applies them in order. */
function searchPathOption(options: string): string | undefined {
  let found: string | undefined;
  for (const match of options.matchAll(/(?:^|\s)(?:-c\s*|--)search_path=((?:\\\s|\S)+)/g)) {
    found = match[1]?.replace(/\\(\s)/g, "$1");
  }
  return found;
}
