export {
  InvalidCacheOptionError,
  MissingConnectionStringError,
  PrismaInternalsChangedError,
} from "./errors.js";
export { pgCacheWatch } from "./extension.js";
export {
  CACHED_OPERATIONS,
  type CacheArgument,
  type CacheCallOptions,
  type CachedOperation,
  MUTATION_OPERATIONS,
  type MutationOperation,
  type PgCacheWatchOptions,
  type RawCacheOptions,
  type RawSqlQuery,
} from "./options.js";
export { VERIFIED_PRISMA_VERSIONS } from "./prisma-internals.js";
