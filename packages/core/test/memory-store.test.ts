import { describe, expect, it } from "vitest";
import { MemoryStore } from "../src/adapter.js";

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
    const unbounded = new MemoryStore({ maxEntries: 100, maxBytes: Number.POSITIVE_INFINITY });
    unbounded.set("a", entry(["t"], 1000));
    unbounded.set("b", entry(["t"], 1000));
    const two = unbounded.bytes;
    const store = new MemoryStore({ maxEntries: 100, maxBytes: two + 500 });
    store.set("a", entry(["t"], 1000));
    store.set("b", entry(["t"], 1000));
    store.set("c", entry(["t"], 1000));
    expect(store.size).toBe(2);
    expect(store.bytes).toBe(two);
  });

  it("counts its index on top of the entries' bytes: per entry, per tag it carries, per tag indexed", () => {
    const store = new MemoryStore({ maxEntries: 100, maxBytes: Number.POSITIVE_INFINITY });
    store.set("a", entry(["shared"], 0));
    const first = store.bytes;
    store.set("b", entry(["shared"], 0));
    const perEntry = store.bytes - first;
    // The first entry also paid for indexing its tag.
    expect(first).toBeGreaterThan(perEntry);
    expect(perEntry).toBeGreaterThan(0);
    const two = store.bytes;
    store.set("c", entry(["shared", "own"], 0));
    // Like "a" it has a tag indexed for it, and it is in two tags' sets.
    expect(store.bytes - two).toBeGreaterThan(first);
    store.delete("c");
    expect(store.bytes).toBe(first + perEntry);
    expect(store.deleteTag("shared")).toBe(2);
    expect(store.bytes).toBe(0);
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
