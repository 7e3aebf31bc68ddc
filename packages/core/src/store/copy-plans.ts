/**
 * What the fill copier learned about the copy it made, so the hit copier need not find it out again.
 *
 * Only copies made by cloneAndMeasure / freezeAndMeasure are registered, and only when they are
 * trees (no object reached twice): the cache keeps those copies private (or frozen) and never
 * changes them, so what was true of their layout at fill stays true for every hit.
 */

/** How to copy a registered stored value: a per-shape row copier, or the generic tree copy. */
export type CopyPlan = (value: never) => unknown;

/** Stored root value -> how to copy it. A value not in here is copied with an identity map. */
export const rootPlans = new WeakMap<object, CopyPlan>();

/** A stored array of same-shaped plain rows, anywhere inside a registered tree -> its rows copier. */
export const rowArrayPlans = new WeakMap<object, CopyPlan>();
