/**
 * What the fill copier learned about the copy it made, so the hit copier need not find it out again.
 *
 * Only copies made by cloneAndMeasure / freezeAndMeasure carry a plan, and only when they are
 * trees (no object reached twice): the cache keeps those copies private (or frozen) and never
 * changes them, so what was true of their layout at fill stays true for every hit.
 *
 * The plan is a non-enumerable symbol-keyed property of the root copy: no copy, spread, JSON or
 * key listing carries it over, and reading it costs one property load. (A WeakMap from copy to
 * plan was measured first: inserting fresh keys cost microseconds per fill in GC work.)
 */

/** How to copy a stored value: a per-shape rows copier, or the generic tree copy. */
export type CopyPlan = (value: never) => unknown;

const PLAN = Symbol("pgcachewatch.copyPlan");

export function attachPlan(root: object, plan: CopyPlan): void {
  Object.defineProperty(root, PLAN, { value: plan });
}

export function planOf(value: object): CopyPlan | undefined {
  return (value as { [PLAN]?: CopyPlan })[PLAN];
}
