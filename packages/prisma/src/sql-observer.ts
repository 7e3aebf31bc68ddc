import { AsyncLocalStorage } from "node:async_hooks";
import type { TableRef } from "@pgcachewatch/core";
import type { DriverAdapterFactoryLike } from "./prisma-internals.js";

/** Collects the SQL the driver adapter runs on behalf of one Prisma operation. */
export interface SqlSink {
  readonly statements: string[];
}

interface SqlQueryLike {
  readonly sql: string;
}

type QueryMethod = (query: SqlQueryLike) => Promise<unknown>;
type StartTransaction = (...args: unknown[]) => Promise<unknown>;

const observers = new WeakMap<object, SqlObserver>();

/**
 * Observes the SQL the driver adapter actually runs. Prisma 7 compiles queries in JS and calls the
 * adapter in the caller's async context, so an AsyncLocalStorage scope opened around an operation
 * sees exactly that operation's statements (fully qualified: `"schema"."table"`).
 */
export class SqlObserver {
  readonly #storage = new AsyncLocalStorage<SqlSink>();
  #connected = false;

  /** One observer per adapter factory; wraps its `connect()` the first time. */
  static for(factory: DriverAdapterFactoryLike): SqlObserver {
    let observer = observers.get(factory);
    if (!observer) {
      const created = new SqlObserver();
      observer = created;
      observers.set(factory, created);
      const connect = factory.connect.bind(factory);
      (factory as { connect: () => Promise<unknown> }).connect = async () => {
        const adapter = await connect();
        created.#instrument(adapter);
        created.#connected = true;
        return adapter;
      };
    }
    return observer;
  }

  /** True once a connection made through the wrapped factory exists (a client connected earlier is not observed). */
  get active(): boolean {
    return this.#connected;
  }

  /** Run `fn` and collect every statement the adapter runs for it. */
  async observe<T>(fn: () => Promise<T>): Promise<{ value: T; statements: readonly string[] }> {
    const sink: SqlSink = { statements: [] };
    // Prisma's promises are lazy: the query starts at then(), which must happen inside the scope.
    const value = await this.#storage.run(sink, async () => await fn());
    return { value, statements: sink.statements };
  }

  #record(query: SqlQueryLike): void {
    const sink = this.#storage.getStore();
    if (sink && typeof query?.sql === "string") sink.statements.push(query.sql);
  }

  #instrument(queryable: unknown): void {
    if (typeof queryable !== "object" || queryable === null) return;
    const target = queryable as Record<string, unknown>;
    for (const name of ["queryRaw", "executeRaw"] as const) {
      const method = target[name];
      if (typeof method !== "function") continue;
      const bound = (method as QueryMethod).bind(queryable);
      target[name] = (query: SqlQueryLike) => {
        this.#record(query);
        return bound(query);
      };
    }
    const start = target.startTransaction;
    if (typeof start === "function") {
      const bound = (start as StartTransaction).bind(queryable);
      target.startTransaction = async (...args: unknown[]) => {
        const transaction = await bound(...args);
        this.#instrument(transaction);
        return transaction;
      };
    }
  }
}

/** A schema-qualified name right after a keyword that introduces a table: how Prisma writes every table it touches. */
const TABLE_REFERENCE = /\b(?:FROM|JOIN|INTO|UPDATE)\s+"((?:[^"]|"")+)"\s*\.\s*"((?:[^"]|"")+)"/gi;

/**
 * The tables the statements Prisma generated read or write. Prisma always writes tables as
 * `"schema"."table"` after FROM, JOIN, INTO or UPDATE; `"alias"."column"` pairs never follow those
 * keywords, so they are not mistaken for tables, whatever the schema is called.
 */
export function tablesInSql(statements: readonly string[]): TableRef[] {
  const found = new Map<string, TableRef>();
  for (const sql of statements) {
    for (const match of sql.matchAll(TABLE_REFERENCE)) {
      const schema = match[1]!.replaceAll('""', '"');
      const table = match[2]!.replaceAll('""', '"');
      found.set(`${schema}\u0000${table}`, { schema, table });
    }
  }
  return [...found.values()];
}
