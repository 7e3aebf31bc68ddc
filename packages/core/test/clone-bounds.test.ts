import { beforeEach, describe, expect, it } from "vitest";
import { cloneAndMeasure, cloneValue, freezeAndMeasure } from "../src/adapter.js";
import { copyCounters, resetCopyCounters } from "../src/store/copy-counters.js";
import { arrayBytes, DATE_BYTES, plainObjectBytes, stringBytes } from "../src/store/heap-size.js";
import { MAX_DEPTH, UncloneableValueError } from "../src/store/uncloneable.js";

// Pure logic: copying is bounded by distinct objects and by its byte budget (rule 8). No database.
// Bounds are asserted on structure, bytes counted and nodes visited, never on time.

const MiB = 1024 * 1024;

beforeEach(() => resetCopyCounters());

/** 2,000 rows that all point at one value of 25,000 objects: 50 million objects if expanded. */
function sharedValueRows() {
  const shared = Array.from({ length: 25_000 }, (_, i) => ({ i, label: `v${i}` }));
  return { shared, rows: Array.from({ length: 2000 }, (_, id) => ({ id, data: shared })) };
}

/** `o = { a: o, b: o }` 26 times: 27 objects, 2^26 paths. */
function doublingDag(levels = 26) {
  let o: Record<string, unknown> = {};
  for (let i = 0; i < levels; i++) o = { a: o, b: o };
  return o;
}

function expectDagShape(copy: Record<string, unknown>, original: Record<string, unknown>, levels: number) {
  let node = copy;
  let source = original;
  for (let i = 0; i < levels; i++) {
    expect(node !== source).toBe(true); // not .not.toBe: its message deep-compares the DAG
    expect(node.a).toBe(node.b);
    expect(Object.keys(node)).toEqual(["a", "b"]);
    node = node.a as Record<string, unknown>;
    source = source.a as Record<string, unknown>;
  }
  expect(node).toEqual({});
  expect(node !== source).toBe(true);
}

describe("shared references are copied once and stay shared", () => {
  it("2,000 rows -> one 25k-object value: copied as a DAG, counted once", () => {
    const { shared, rows } = sharedValueRows();
    const filled = cloneAndMeasure(rows, 64 * MiB);
    expect(filled).toBeDefined();
    const copy = filled!.copy;
    // 1 root array + 2,000 rows + the shared array + its 25,000 objects, each visited once.
    expect(copyCounters.nodesVisited).toBe(1 + 2000 + 1 + 25_000);
    const sharedBytes =
      arrayBytes(25_000) +
      shared.reduce((sum, item) => sum + plainObjectBytes(2) + stringBytes(item.label), 0);
    expect(filled!.bytes).toBe(arrayBytes(2000) + 2000 * plainObjectBytes(2) + sharedBytes);
    expect(filled!.bytes).toBeLessThan(4 * MiB);

    for (const result of [
      copy,
      cloneValue(copy),
      cloneValue(rows),
      freezeAndMeasure(rows, 64 * MiB)!.value,
    ]) {
      expect(result).toHaveLength(2000);
      expect(result[0]!.data !== shared).toBe(true);
      expect(result[0]!.data).toHaveLength(25_000);
      expect(result[1999]!.data).toBe(result[0]!.data);
      expect(result[0]!.data[24_999]).toEqual({ i: 24_999, label: "v24999" });
      expect(result[0]!.data[123] !== shared[123]).toBe(true);
      expect(result[1234]!.id).toBe(1234);
    }
  });

  it("the 2^26 DAG: 27 objects copied, 27 counted, sharing kept in every copier", () => {
    const dag = doublingDag();
    const filled = cloneAndMeasure(dag, 64 * MiB)!;
    expect(copyCounters.nodesVisited).toBe(27);
    expect(filled.bytes).toBe(27 * plainObjectBytes(2));
    expectDagShape(filled.copy, dag, 26);
    expectDagShape(cloneValue(filled.copy), dag, 26);
    expectDagShape(cloneValue(dag), dag, 26);
    const frozen = freezeAndMeasure(dag, 64 * MiB)!;
    expect(frozen.bytes).toBe(filled.bytes);
    expectDagShape(frozen.value as Record<string, unknown>, dag, 26);
  });

  it("cycles are reproduced, not rejected", () => {
    const node: Record<string, unknown> = { name: "root", children: [] };
    (node.children as unknown[]).push({ parent: node }, node);
    node.self = node;
    for (const copy of [
      cloneAndMeasure(node).copy,
      cloneValue(node),
      cloneValue(cloneAndMeasure(node).copy),
    ]) {
      expect(copy).not.toBe(node);
      expect(copy.self).toBe(copy);
      const children = copy.children as Record<string, unknown>[];
      expect(children[0]!.parent).toBe(copy);
      expect(children[1]).toBe(copy);
    }
    const frozen = freezeAndMeasure(node)!.value as Record<string, unknown>;
    expect(frozen.self).toBe(frozen);
    expect(Object.isFrozen(frozen)).toBe(true);
  });

  it("a Date or row shared by two rows stays one object in the copy", () => {
    const at = new Date(1);
    const row = { id: 1, at };
    const rows = [row, row, { id: 2, at }];
    for (const copy of [cloneValue(cloneAndMeasure(rows).copy), cloneValue(rows)]) {
      expect(copy[0]).toBe(copy[1]);
      expect(copy[2]!.at).toBe(copy[0]!.at);
      expect(copy[0]!.at).not.toBe(at);
      expect(copy).toEqual(rows);
    }
  });
});

describe("the byte budget", () => {
  /** 50,000 rows of ~1 KB of distinct text: about 50 MB as JSON. */
  function fiftyMegabytes() {
    return Array.from({ length: 50_000 }, (_, id) => ({
      id,
      body: Buffer.alloc(1000, 97 + (id % 26)).toString("latin1"),
      created_at: new Date(1.7e12 + id),
    }));
  }
  const rowBytes = plainObjectBytes(3) + stringBytes("x".repeat(1000)) + DATE_BYTES;

  it("a 50 MB value over a 4 MiB budget: undefined, after visiting only what fits in the budget", () => {
    const value = fiftyMegabytes();
    expect(JSON.stringify(value).length).toBeGreaterThan(50_000_000);
    const budget = 4 * MiB;
    expect(cloneAndMeasure(value, budget)).toBeUndefined();
    // Each row is 3 objects' worth of bytes; the walk stops within one row of the budget.
    const rowsThatFit = Math.ceil((budget - arrayBytes(value.length)) / rowBytes);
    expect(copyCounters.nodesVisited).toBeLessThanOrEqual(1 + 2 * (rowsThatFit + 1));
    expect(copyCounters.nodesVisited).toBeLessThan(value.length / 10);
    expect(copyCounters).toMatchObject({ fillCopies: 1, overBudget: 1 });

    resetCopyCounters();
    expect(freezeAndMeasure(value, budget)).toBeUndefined();
    expect(copyCounters.nodesVisited).toBeLessThanOrEqual(1 + 2 * (rowsThatFit + 1));
    expect(Object.isFrozen(value)).toBe(false);
    expect(Object.isFrozen(value[0])).toBe(false);
  });

  it("is not copied twice: one fill walk per value, stopping at the budget", () => {
    const value = fiftyMegabytes();
    expect(cloneAndMeasure(value, 4 * MiB)).toBeUndefined();
    const visitedOnce = copyCounters.nodesVisited;
    expect(copyCounters.fillCopies).toBe(1);
    expect(cloneAndMeasure(value, 4 * MiB)).toBeUndefined();
    expect(copyCounters.fillCopies).toBe(2);
    expect(copyCounters.nodesVisited).toBe(2 * visitedOnce);
  });

  it("an array's slots count before its elements are visited; a wide object's before its end", () => {
    expect(cloneAndMeasure(new Array(1_000_000).fill(0), MiB)).toBeUndefined();
    expect(copyCounters.nodesVisited).toBe(1);
    const wide = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, i]));
    resetCopyCounters();
    expect(cloneAndMeasure([wide], MiB)).toBeUndefined();
    expect(copyCounters.nodesVisited).toBe(2);
  });

  it("stops exactly past the budget and counts the same bytes as an unbounded copy", () => {
    const rows = Array.from({ length: 100 }, (_, id) => ({
      id,
      name: `n${id}`,
      at: new Date(id),
      tags: ["a"],
    }));
    const full = cloneAndMeasure(rows);
    expect(full.bytes).toBe(
      arrayBytes(100) +
        rows.reduce((sum, row) => sum + plainObjectBytes(4) + stringBytes(row.name) + DATE_BYTES, 0) +
        100 * (arrayBytes(1) + stringBytes("a")),
    );
    expect(cloneAndMeasure(rows, full.bytes)?.bytes).toBe(full.bytes);
    expect(cloneAndMeasure(rows, full.bytes - 1)).toBeUndefined();
    expect(freezeAndMeasure(rows, full.bytes)?.bytes).toBe(full.bytes);
    expect(cloneAndMeasure("x".repeat(1000), 100)).toBeUndefined();
    expect(cloneAndMeasure(42, 0)).toEqual({ copy: 42, bytes: 0 });
  });

  it("a value nested deeper than the copier goes is refused with a stable error", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < MAX_DEPTH + 5; i++) deep = { next: deep };
    expect(() => cloneAndMeasure(deep)).toThrow(UncloneableValueError);
    expect(() => cloneValue(deep)).toThrow(expect.objectContaining({ code: "UNCLONEABLE_VALUE" }));
    let fine: Record<string, unknown> = {};
    for (let i = 0; i < MAX_DEPTH - 5; i++) fine = { next: fine };
    expect(cloneValue(cloneAndMeasure(fine).copy)).toEqual(fine);
  });
});
