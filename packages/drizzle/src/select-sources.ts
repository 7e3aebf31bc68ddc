import type { SQL, Subquery, Table, View } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";

/**
 * What a SELECT that Drizzle rendered reads from: its FROM relation and its joins (as objects), and
 * its CTEs. Drizzle renders joined (and aliased) tables as bare identifiers, so without this record
 * the SQL alone cannot tell a joined table from a raw name a user typed.
 */
export interface SelectSources {
  readonly relations: readonly unknown[];
  readonly withList: readonly Subquery[];
}

const kSelectSources = Symbol.for("@pgcachewatch/drizzle:selectSources");

type Tagged = { [kSelectSources]?: SelectSources };

export function selectSourcesOf(sql: SQL): SelectSources | undefined {
  return (sql as unknown as Tagged)[kSelectSources];
}

interface SelectConfigLike {
  table: Table | Subquery | View | SQL;
  joins?: readonly { table: unknown }[];
  withList?: readonly Subquery[];
  setOperators: readonly unknown[];
}

interface DialectInternals {
  buildSelectQuery(config: SelectConfigLike): SQL;
  buildSetOperations(left: SQL, setOperators: readonly unknown[]): SQL;
}

const kInstalled = Symbol.for("@pgcachewatch/drizzle:selectSourcesInstalled");

/**
 * Record the sources of every SELECT PgDialect builds on the SQL object it returns (set operations:
 * on the left SELECT, which the result nests). Idempotent; stateless apart from the returned objects.
 */
export function installSelectSourceRecording(): void {
  const proto = PgDialect.prototype as unknown as DialectInternals & { [kInstalled]?: true };
  if (proto[kInstalled]) return;
  proto[kInstalled] = true;
  const original = proto.buildSelectQuery;
  proto.buildSelectQuery = function buildSelectQuery(this: DialectInternals, config: SelectConfigLike): SQL {
    const sources: SelectSources = {
      relations: [config.table, ...(config.joins ?? []).map((join) => join.table)],
      withList: config.withList ?? [],
    };
    if (config.setOperators.length === 0) {
      const query = original.call(this, config);
      (query as unknown as Tagged)[kSelectSources] = sources;
      return query;
    }
    const left = original.call(this, { ...config, setOperators: [] });
    (left as unknown as Tagged)[kSelectSources] = sources;
    return this.buildSetOperations(left, config.setOperators);
  };
}
