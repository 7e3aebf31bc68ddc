import { Prisma } from "@prisma/client/extension";
import type { CacheArgumentMethods } from "./cache-argument-methods.js";
import {
  checkRawOptions,
  type PgCacheWatchOptions,
  type RawCacheOptions,
  type RawSqlQuery,
} from "./options.js";
import { type OperationCall, PrismaCache } from "./prisma-cache.js";

/**
 * `prisma.$extends(pgCacheWatch())`: cache reads under the tables their SQL reads, invalidate what
 * writes write. Each cached model operation takes an optional `cache` argument.
 */
export function pgCacheWatch(options: PgCacheWatchOptions = {}) {
  return Prisma.defineExtension((client) => {
    const rawOptions = new WeakMap<object, RawCacheOptions>();
    const cache = new PrismaCache(client, options, rawOptions);
    return client
      .$extends({
        name: "@pgcachewatch/prisma:query",
        query: {
          $allModels: {
            $allOperations(call) {
              return cache.handle(call as unknown as OperationCall);
            },
          },
          $queryRaw(call) {
            return cache.handle({
              ...(call as unknown as OperationCall),
              model: undefined,
              operation: "$queryRaw",
            });
          },
          $queryRawUnsafe(call) {
            return cache.handle({
              ...(call as unknown as OperationCall),
              model: undefined,
              operation: "$queryRawUnsafe",
            });
          },
        },
      })
      .$extends({
        name: "@pgcachewatch/prisma",
        client: {
          /** The engine behind this client: stats(), invalidate(), on("invalidate"), stop(). */
          $cacheWatch: cache.watch,
          /**
           * `$queryRaw` with cache options, e.g.
           * `prisma.$queryRawCached(Prisma.sql\`SELECT ...\`, { ttl: 60_000, tags: ["report"] })`.
           * `tables` adds dependencies the SQL does not show (it makes an opaque statement cacheable).
           */
          $queryRawCached<T = unknown>(
            query: RawSqlQuery,
            options?: RawCacheOptions,
          ): Prisma.PrismaPromise<T> {
            const context = Prisma.getExtensionContext(this) as unknown as {
              $queryRaw(query: unknown): Prisma.PrismaPromise<T>;
            };
            try {
              const checked = checkRawOptions(options);
              // A private copy marks this one call; the caller's query object stays an ordinary one.
              const marked = Object.assign(
                Object.create(Object.getPrototypeOf(query) as object) as object,
                query,
              );
              rawOptions.set(marked, checked);
              return context.$queryRaw(marked);
            } catch (error) {
              return Promise.reject(error) as Prisma.PrismaPromise<T>;
            }
          },
        },
        // Types only: at run time Prisma's own methods stay in place (so every query extension, added
        // before or after this one, still runs), and the query hook above takes the `cache` argument out.
        model: { $allModels: {} } as unknown as { $allModels: CacheArgumentMethods },
      });
  });
}
