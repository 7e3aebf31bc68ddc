/**
 * Every Prisma internal this package reads, in one place. Checked against Prisma 7.10; each reader
 * validates the shape it expects and fails with PrismaInternalsChangedError instead of guessing.
 * test/prisma-internals.test.ts pins all of them.
 */
import { PrismaInternalsChangedError } from "./errors.js";

/** The Prisma releases these internals were verified against. */
export const VERIFIED_PRISMA_VERSIONS = "7.10";

/** `client._runtimeDataModel.models`: the schema's model names (computed fields are looked up per model). */
export function readModelNames(client: unknown): readonly string[] {
  const dataModel = (client as { _runtimeDataModel?: unknown } | null)?._runtimeDataModel;
  if (!isRecord(dataModel) || !isRecord(dataModel.models)) {
    throw new PrismaInternalsChangedError(
      "_runtimeDataModel",
      "client._runtimeDataModel.models is not an object",
    );
  }
  return Object.keys(dataModel.models);
}

export type TransactionMarker =
  | { readonly kind: "itx"; readonly id: string }
  | { readonly kind: "batch" }
  /** No way to tell: treated as inside a transaction (bypassing the cache is always safe). */
  | { readonly kind: "unknown" };

/**
 * `__internalParams.transaction` of a query extension call (the same object reaches
 * `_executeRequest` as its parameters): `{ kind: "itx", id }` inside
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

/** `__internalParams.args`: the arguments as the previous extension passed them on (identity kept). */
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

/**
 * What `client._executeRequest(params)` receives: the request after every query extension ran
 * (`args` as the innermost one passed it on), right before Prisma serializes and compiles it.
 */
export interface PrismaRequest {
  readonly args?: unknown;
  /** `user.findMany`, `$queryRaw`, ... */
  readonly clientMethod: string;
  /** `findMany`, `count`, `queryRaw`, ... */
  readonly action: string;
  readonly model?: string;
  /** The fluent API's path (`prisma.user.findUnique(...).posts()`); the result is unpacked along it. */
  readonly dataPath?: readonly unknown[];
  readonly transaction?: unknown;
}

export type ExecuteRequest = (this: unknown, request: PrismaRequest) => Promise<unknown>;

const hookedClients = new WeakSet<object>();

/**
 * Wrap `_executeRequest` of the client every extended client derives from (`client._originalClient`;
 * `$extends` creates objects whose prototype is it), once. This is the innermost point of a Prisma
 * call in JS: every query extension has run, nothing has been serialized or compiled yet.
 */
export function wrapExecuteRequest(
  client: unknown,
  wrap: (original: ExecuteRequest) => ExecuteRequest,
): void {
  const original = (client as { _originalClient?: unknown } | null)?._originalClient;
  if (!isRecord(original) || typeof original._executeRequest !== "function") {
    throw new PrismaInternalsChangedError(
      "_executeRequest",
      "client._originalClient._executeRequest is not a function",
    );
  }
  if (hookedClients.has(original)) return;
  hookedClients.add(original);
  original._executeRequest = wrap(original._executeRequest as ExecuteRequest);
}

/** `client._globalOmit`: the `omit` option the PrismaClient was created with (shapes every result). */
export function readGlobalOmit(client: unknown): unknown {
  return (client as { _globalOmit?: unknown } | null)?._globalOmit;
}

/** `client._extensions`: the extensions of this (extended) client, an immutable list per client. */
export function readExtensions(client: unknown): object {
  const extensions = (client as { _extensions?: unknown } | null)?._extensions;
  if (!isRecord(extensions) || typeof extensions.getAllComputedFields !== "function") {
    throw new PrismaInternalsChangedError(
      "_extensions",
      "client._extensions.getAllComputedFields is not a function",
    );
  }
  return extensions;
}

/**
 * Computed fields (`result` extensions) of `model` on this client: their names and the fields they
 * need, which Prisma adds to (or keeps out of) the SQL selection.
 */
export function readComputedFields(extensions: object, model: string): Record<string, readonly string[]> {
  const fields = (extensions as { getAllComputedFields(model: string): unknown }).getAllComputedFields(model);
  const out: Record<string, readonly string[]> = {};
  if (!isRecord(fields)) return out;
  for (const [name, field] of Object.entries(fields)) {
    const needs = isRecord(field) && Array.isArray(field.needs) ? field.needs : [];
    out[name] = needs.filter((n): n is string => typeof n === "string");
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
