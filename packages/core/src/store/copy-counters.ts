/**
 * How much work the fill copier did, for tests that check it stops early (a value over budget is
 * visited only up to the budget, and never copied a second time). Not part of the public API.
 */
export const copyCounters = {
  /** Objects (not primitives) the fill copier visited, shared ones once. */
  nodesVisited: 0,
  /** Fill copies started (cloneAndMeasure and freezeAndMeasure calls). */
  fillCopies: 0,
  /** Fill copies abandoned because the value was over its byte budget. */
  overBudget: 0,
};

export function resetCopyCounters(): void {
  copyCounters.nodesVisited = 0;
  copyCounters.fillCopies = 0;
  copyCounters.overBudget = 0;
}
