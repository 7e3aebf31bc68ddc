/**
 * Isolation (rule 6): a caller can never change what another caller gets. Two modes:
 *
 * - "copy" (the default): the store keeps its own copy (cloneAndMeasure) and every hit hands out
 *   a fresh copy (cloneValue). Callers may change what they get.
 * - "freeze": the store deep-freezes its copy once (freezeAndMeasure) and every hit hands out that
 *   same value, with no copy. Changing it throws a TypeError in strict mode (silently does nothing
 *   in sloppy mode), nested values included; Date, Map and Set in it are read-only subclasses whose
 *   mutating methods throw the same TypeError (see frozen-builtins.ts). Binary data (Buffer, typed
 *   arrays, ArrayBuffer, DataView) cannot be made read-only in JavaScript, so a frozen result that
 *   holds any is not shareable: each hit gets cloneValue of it, as in copy mode.
 *
 * Copied: plain objects (null-prototype ones stay so; a "__proto__" own key stays a field),
 * arrays, Date, Buffer and typed arrays, ArrayBuffer, DataView, Map, Set. Shared: primitives
 * (bigint included) and instances of other classes, treated as immutable values (Prisma's Decimal
 * is immutable; structuredClone would strip its prototype); they are not frozen either. A class
 * instance that is mutated in place is the one case this does not protect.
 *
 * Shared references are kept: an object reached twice is copied once and shared in the copy, and
 * a cycle is reproduced, so copying takes time proportional to the distinct objects.
 */

import { type CopyPlan, planOf } from "./copy-plans.js";
import type { DeepReadonly } from "./deep-readonly.js";
import { identityCopy } from "./identity-copy.js";
import { measuredCopy } from "./measured-copy.js";

export type { DeepReadonly } from "./deep-readonly.js";
export { UncloneableValueError } from "./uncloneable.js";

export type IsolationMode = "copy" | "freeze";

/**
 * Copy a value for a caller (the hit path). A value cloneAndMeasure or freezeAndMeasure produced
 * is copied by the plan registered at fill (per-shape row copiers, no identity map when it is a
 * tree); any other value by the generic copier with an identity map. Throws UncloneableValueError
 * only for a value nested deeper than the copier goes, which a stored value never is.
 */
export function cloneValue<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  const plan: CopyPlan | undefined = planOf(value);
  return (plan !== undefined ? plan(value as never) : identityCopy(value)) as T;
}

/**
 * Copy for the store, measuring heap bytes as it goes; returns undefined as soon as the bytes
 * exceed `budgetBytes` (time and memory proportional to the budget, not to the expanded graph).
 * A shared object is counted once. The copy must stay private to the store and unchanged: the hit
 * copier trusts the layout recorded for it.
 */
export function cloneAndMeasure<T>(value: T): { copy: T; bytes: number };
export function cloneAndMeasure<T>(value: T, budgetBytes: number): { copy: T; bytes: number } | undefined;
export function cloneAndMeasure<T>(
  value: T,
  budgetBytes = Number.POSITIVE_INFINITY,
): { copy: T; bytes: number } | undefined {
  const filled = measuredCopy(value, budgetBytes, false);
  return filled === undefined ? undefined : { copy: filled.copy as T, bytes: filled.bytes };
}

/**
 * Freeze mode's fill: copy once (bounded as cloneAndMeasure), deep-freeze the copy, and return it
 * to share with every caller when `shareable`. A result holding binary data is not shareable
 * (Buffer and typed arrays cannot be frozen): hand each hit `cloneValue(value)` instead.
 * The hit path is therefore `shareable ? value : cloneValue(value)`.
 */
export function freezeAndMeasure<T>(
  value: T,
  budgetBytes: number = Number.POSITIVE_INFINITY,
): { value: DeepReadonly<T>; bytes: number; shareable: boolean } | undefined {
  const filled = measuredCopy(value, budgetBytes, true);
  if (filled === undefined) return undefined;
  return { value: filled.copy as DeepReadonly<T>, bytes: filled.bytes, shareable: !filled.binary };
}
