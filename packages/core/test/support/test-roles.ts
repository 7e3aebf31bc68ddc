import type pg from "pg";

const PASSWORD = "boundary";

/**
 * Login roles for one test file. Roles are cluster-wide, so their names carry the file's database
 * name; `drop()` removes them (and their grants in this database) before the database goes.
 */
export async function createTestRoles<K extends string>(
  admin: pg.Client,
  databaseName: string,
  labels: readonly K[],
): Promise<{ names: Record<K, string>; drop(): Promise<void> }> {
  const suffix = databaseName.replace(/[^a-z0-9_]/g, "_");
  const names = {} as Record<K, string>;
  for (const label of labels) {
    names[label] = `pgcw_${label}_${suffix}`;
    await admin.query(`CREATE ROLE "${names[label]}" LOGIN PASSWORD '${PASSWORD}'`);
  }
  return {
    names,
    async drop() {
      for (const label of labels) {
        await admin.query(`DROP OWNED BY "${names[label]}"`);
        await admin.query(`DROP ROLE "${names[label]}"`);
      }
    },
  };
}

/** `url` with another role's credentials. */
export function urlAs(url: string, role: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = PASSWORD;
  return parsed.toString();
}
