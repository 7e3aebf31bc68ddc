/**
 * Every Prisma internal this package reads, in one place. Checked against Prisma 7.10; each reader
 * validates the shape it expects and fails with PrismaInternalsChangedError instead of guessing.
 * test/prisma-internals.test.ts pins all of them.
 */
import { PrismaInternalsChangedError } from "./errors.js";

/** The Prisma releases these internals were verified against. */
export const VERIFIED_PRISMA_VERSIONS = "7.10";

export interface RuntimeField {
  readonly name: string;
  readonly kind: string;
  readonly type: string;
  readonly relationName?: string;
  readonly dbName?: string | null;
}

export interface RuntimeModel {
  readonly dbName: string | null;
  readonly schema?: string | null;
  readonly fields: readonly RuntimeField[];
}

export interface RuntimeDataModel {
  readonly models: Readonly<Record<string, RuntimeModel>>;
}

/** `client._runtimeDataModel`: each model's `dbName` (@@map), `schema` (@@schema) and fields. */
export function readRuntimeDataModel(client: unknown): RuntimeDataModel {
  const dataModel = (client as { _runtimeDataModel?: unknown } | null)?._runtimeDataModel;
  if (!isRecord(dataModel) || !isRecord(dataModel.models)) {
    throw new PrismaInternalsChangedError(
      "_runtimeDataModel",
      "client._runtimeDataModel.models is not an object",
    );
  }
  for (const [name, model] of Object.entries(dataModel.models)) {
    if (!isRecord(model) || !Array.isArray(model.fields)) {
      throw new PrismaInternalsChangedError("_runtimeDataModel", `model ${name} has no fields array`);
    }
    if (!(model.dbName === null || typeof model.dbName === "string")) {
      throw new PrismaInternalsChangedError(
        "_runtimeDataModel",
        `model ${name}.dbName is not a string or null`,
      );
    }
    if (!(model.schema === undefined || model.schema === null || typeof model.schema === "string")) {
      throw new PrismaInternalsChangedError(
        "_runtimeDataModel",
        `model ${name}.schema is not a string or null`,
      );
    }
    for (const field of model.fields as unknown[]) {
      if (
        !isRecord(field) ||
        typeof field.name !== "string" ||
        typeof field.kind !== "string" ||
        typeof field.type !== "string"
      ) {
        throw new PrismaInternalsChangedError(
          "_runtimeDataModel",
          `a field of model ${name} lacks name/kind/type`,
        );
      }
      if (
        field.kind === "object" &&
        field.relationName !== undefined &&
        typeof field.relationName !== "string"
      ) {
        throw new PrismaInternalsChangedError(
          "_runtimeDataModel",
          `relation ${name}.${field.name} has no relationName`,
        );
      }
    }
  }
  return dataModel as unknown as RuntimeDataModel;
}

export type TransactionMarker =
  | { readonly kind: "itx"; readonly id: string }
  | { readonly kind: "batch" }
  /** No way to tell: treated as inside a transaction (bypassing the cache is always safe). */
  | { readonly kind: "unknown" };

/**
 * `__internalParams.transaction` of a query extension call: `{ kind: "itx", id }` inside
 * `$transaction(async (tx) => ...)`, `{ kind: "batch", ... }` inside `$transaction([...])`, else absent.
 * A marker of another shape, or no `__internalParams` at all, reads as "unknown".
 */
export function readTransactionMarker(internalParams: unknown): TransactionMarker | undefined {
  if (!isRecord(internalParams)) return { kind: "unknown" };
  const tx = internalParams.transaction;
  if (tx === undefined || tx === null) return undefined;
  if (isRecord(tx) && tx.kind === "itx" && typeof tx.id === "string") return { kind: "itx", id: tx.id };
  if (isRecord(tx) && tx.kind === "batch") return { kind: "batch" };
  return { kind: "unknown" };
}

/** `__internalParams.args`: the very object the model method was called with (identity kept). */
export function readOriginalArgs(internalParams: unknown): unknown {
  return isRecord(internalParams) ? internalParams.args : undefined;
}

/** The driver adapter factory the client was built with: `client._engineConfig.adapter`. */
export function readAdapterFactory(client: unknown): DriverAdapterFactoryLike | undefined {
  const config = (client as { _engineConfig?: unknown } | null)?._engineConfig;
  if (!isRecord(config)) return undefined;
  const adapter = config.adapter;
  if (isRecord(adapter) && typeof adapter.connect === "function")
    return adapter as unknown as DriverAdapterFactoryLike;
  return undefined;
}

/** The part of a driver adapter factory (`SqlDriverAdapterFactory`) that SQL observation wraps. */
export interface DriverAdapterFactoryLike {
  connect(): Promise<unknown>;
}

/** The default schema a `PrismaPg` factory was given (`new PrismaPg(config, { schema })`): its `options.schema`. */
export function readAdapterSchema(factory: unknown): string | undefined {
  const options = isRecord(factory) ? factory.options : undefined;
  return isRecord(options) && typeof options.schema === "string" ? options.schema : undefined;
}

type TransactionAction = "start" | "commit" | "rollback";
type EngineTransaction = (action: TransactionAction, headers: unknown, info: unknown) => Promise<unknown>;
const hookedEngines = new WeakMap<object, Set<(id: string) => void>>();

/**
 * Calls `onEnd(id)` after an interactive transaction committed or rolled back, by wrapping
 * `client._engine.transaction(action, headers, info)`: `info` is `{ id }` for commit and rollback,
 * and the options for start, where `newTxId` marks a nested transaction (a savepoint in the same
 * transaction, same id). Only the outermost end counts. Returns false when that method is missing.
 */
export function onInteractiveTransactionEnd(client: unknown, onEnd: (id: string) => void): boolean {
  const engine = (client as { _engine?: unknown } | null)?._engine;
  if (!isRecord(engine) || typeof engine.transaction !== "function") return false;
  let listeners = hookedEngines.get(engine);
  if (!listeners) {
    const set = new Set<(id: string) => void>();
    listeners = set;
    hookedEngines.set(engine, set);
    const nesting = new Map<string, number>();
    const original = (engine.transaction as EngineTransaction).bind(engine);
    const wrapped: EngineTransaction = async (action, headers, info) => {
      const nestedIn =
        action === "start" && isRecord(info) && typeof info.newTxId === "string" ? info.newTxId : undefined;
      if (nestedIn !== undefined) nesting.set(nestedIn, (nesting.get(nestedIn) ?? 0) + 1);
      try {
        return await original(action, headers, info);
      } catch (error) {
        if (nestedIn !== undefined) leaveNested(nesting, nestedIn);
        throw error;
      } finally {
        if ((action === "commit" || action === "rollback") && isRecord(info) && typeof info.id === "string") {
          if (nesting.has(info.id)) leaveNested(nesting, info.id);
          else for (const listener of set) listener(info.id);
        }
      }
    };
    engine.transaction = wrapped;
  }
  listeners.add(onEnd);
  return true;
}

function leaveNested(nesting: Map<string, number>, id: string): void {
  const depth = (nesting.get(id) ?? 1) - 1;
  if (depth > 0) nesting.set(id, depth);
  else nesting.delete(id);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
