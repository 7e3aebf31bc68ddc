import type pg from "pg";
import { afterAll, beforeAll, inject } from "vitest";
import { createTestDatabase, openExternalWriter, type TestDatabase } from "./test-database.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgcwAdminUrl: string;
    pgcwServerKind: string;
  }
}

export interface DatabaseFixture {
  /** URL of this test file's own database (valid inside tests and hooks). */
  readonly url: string;
  readonly adminUrl: string;
  readonly name: string;
  /** Open a raw `pg` client on this database that is not part of the code under test; closed after the file. */
  externalWriter(): Promise<pg.Client>;
}

/** The admin URL the global setup started or was given. */
export function adminUrl(): string {
  return inject("pgcwAdminUrl");
}

/** Which server the run uses: `embedded`, `external` (DATABASE_URL) or `docker`. */
export function serverKind(): string {
  return inject("pgcwServerKind");
}

/**
 * Give the calling test file its own fresh database, created before its tests and dropped after.
 * Call at module level of a test file.
 */
export function useTestDatabase(label = "t"): DatabaseFixture {
  let db: TestDatabase | undefined;
  const writers: pg.Client[] = [];
  beforeAll(async () => {
    db = await createTestDatabase(adminUrl(), label);
  });
  afterAll(async () => {
    await Promise.allSettled(writers.map((w) => w.end()));
    await db?.drop();
  });
  const current = (): TestDatabase => {
    if (!db) throw new Error("useTestDatabase(): the database exists only inside tests and hooks");
    return db;
  };
  return {
    get url() {
      return current().url;
    },
    get adminUrl() {
      return current().adminUrl;
    },
    get name() {
      return current().name;
    },
    async externalWriter() {
      const writer = await openExternalWriter(current().url);
      writers.push(writer);
      return writer;
    },
  };
}
