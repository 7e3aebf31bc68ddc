import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import {
  type CachedQueryOptions,
  type ResolvedCacheOptions,
  resolveCacheOptions,
} from "./cached-query-options.js";
import { CachePluginMissingError, InvalidCacheOptionError } from "./errors.js";
import { markPass } from "./query-pass.js";

/** Anything Kysely lets you attach a plugin to: query builders, `sql` fragments, `Kysely` itself. */
export interface PluginHost<T> {
  withPlugin(plugin: KyselyPlugin): T;
}

/**
 * Opt a query into the cache. A Kysely plugin that can also be passed to `$call`:
 *
 *   db.selectFrom("users").selectAll().$call(cached({ ttl: 60_000 })).execute()
 *   sql`select ...`.withPlugin(cached()).execute(db)
 *   db.selectFrom("documents").selectAll().$call(cached({ scope: tenantId }))   // per tenant (RLS)
 *   const cachedDb = db.withPlugin(cached())          // every query of this scope
 *   cachedDb.selectFrom("events").$call(cached(false)) // ...except this one
 */
export interface CachedMarker extends KyselyPlugin {
  <T extends PluginHost<T>>(host: T): T;
}

export function cached(options: CachedQueryOptions | false = {}): CachedMarker {
  // A marker holds nothing but its options: the common ones are built once (a hit then builds none).
  if (options === false) {
    optedOut ??= markerOf(null);
    return optedOut;
  }
  if (
    options.ttl === undefined &&
    options.tables === undefined &&
    options.tags === undefined &&
    options.scope === undefined
  ) {
    plain ??= markerOf(resolveCacheOptions({}));
    return plain;
  }
  return markerOf(validate(options));
}

let plain: CachedMarker | undefined;
let optedOut: CachedMarker | undefined;

function markerOf(resolved: ResolvedCacheOptions | null): CachedMarker {
  const marker = (<T extends PluginHost<T>>(host: T): T => host.withPlugin(marker)) as CachedMarker;
  marker.transformQuery = ({ node, queryId }: PluginTransformQueryArgs): RootOperationNode => {
    if (!markPass(queryId, resolved)) throw new CachePluginMissingError();
    return node;
  };
  marker.transformResult = async ({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> =>
    result;
  return marker;
}

function validate(options: CachedQueryOptions): ResolvedCacheOptions {
  if (options.ttl !== undefined && !(Number.isFinite(options.ttl) && options.ttl >= 0)) {
    throw new InvalidCacheOptionError("ttl", `expected a number of ms >= 0, got ${String(options.ttl)}`);
  }
  if (options.tables !== undefined && !Array.isArray(options.tables)) {
    throw new InvalidCacheOptionError("tables", "expected an array of table names");
  }
  if (
    options.tags !== undefined &&
    !(Array.isArray(options.tags) && options.tags.every((t) => typeof t === "string"))
  ) {
    throw new InvalidCacheOptionError("tags", "expected an array of strings");
  }
  if (options.scope !== undefined && typeof options.scope !== "string") {
    throw new InvalidCacheOptionError("scope", "expected a string (a tenant id, a role name)");
  }
  return resolveCacheOptions(options);
}
