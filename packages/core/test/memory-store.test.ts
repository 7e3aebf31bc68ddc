import { describe, expect, it } from "vitest";
import { MemoryStore } from "../src/index.js";

const entry = (tags: string[], bytes = 10, expiresAt = Number.POSITIVE_INFINITY) => ({
  value: tags.join(),
  bytes,
  tags,
  expiresAt,
});

describe("MemoryStore", () => {
  it("evicts the least recently used entry first", () => {
    const removed: string[] = [];
    const store = new MemoryStore({
      maxEntries: 2,
      maxBytes: 1000,
      onRemove: (k, r) => removed.push(`${k}:${r}`),
    });
    store.set("a", entry(["t"]));
    store.set("b", entry(["t"]));
    store.get("a", 0);
    store.set("c", entry(["t"]));
    expect(removed).toEqual(["b:evicted"]);
    expect(store.size).toBe(2);
  });

  it("evicts by bytes", () => {
    const store = new MemoryStore({ maxEntries: 100, maxBytes: 25 });
    store.set("a", entry(["t"], 10));
    store.set("b", entry(["t"], 10));
    store.set("c", entry(["t"], 10));
    expect(store.size).toBe(2);
    expect(store.bytes).toBe(20);
  });

  it("the tag index shrinks with the entries (rule 8)", () => {
    const store = new MemoryStore({ maxEntries: 3, maxBytes: 1e9 });
    for (let i = 0; i < 1000; i++) store.set(`k${i}`, entry([`tag${i}`, "shared"]));
    expect(store.size).toBe(3);
    expect(store.tagCount).toBe(4); // three own tags + "shared"
    expect(store.deleteTag("shared")).toBe(3);
    expect(store.tagCount).toBe(0);
    expect(store.bytes).toBe(0);
  });

  it("expired entries are not returned", () => {
    const store = new MemoryStore({ maxEntries: 10, maxBytes: 1000 });
    store.set("a", entry(["t"], 10, 100));
    expect(store.get("a", 99)).toBeDefined();
    expect(store.get("a", 100)).toBeUndefined();
    expect(store.size).toBe(0);
  });
});
