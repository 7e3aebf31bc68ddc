import { PgCacheWatchError } from "@pgcachewatch/core";

/** A Prisma internal this package relies on is missing or has changed shape (a Prisma upgrade). */
export class PrismaInternalsChangedError extends PgCacheWatchError {
  constructor(what: string, detail: string) {
    super(
      "PRISMA_INTERNALS_CHANGED",
      `@pgcachewatch/prisma cannot read Prisma's ${what}: ${detail}. This Prisma version is not supported yet.`,
    );
  }
}

/** One class for every adapter's bad cache options (code INVALID_CACHE_OPTION). */
export { InvalidCacheOptionError } from "@pgcachewatch/core";

/** No engine was given and no connection string could be found for one. */
export class MissingConnectionStringError extends PgCacheWatchError {
  constructor() {
    super(
      "MISSING_CONNECTION_STRING",
      "pgCacheWatch() needs a listener connection: pass `watch`, `connectionString`, or set DATABASE_URL",
    );
  }
}
