import { queryKey as sqlQueryKey } from "@pgcachewatch/core";

/**
 * A cache key for a rendered query, or undefined when a parameter cannot be keyed faithfully (the
 * query then runs uncached). The result shape is part of it: Drizzle renders
 * `select({ a: users.id })` and `select({ b: users.id })` as the same SQL and maps the rows afterwards.
 */
export function queryKey(
  kind: string,
  shape: string,
  sql: string,
  params: readonly unknown[],
): string | undefined {
  return sqlQueryKey([`drizzle:${kind}`, shape, sql], params);
}
