import { describe, expect, it } from "vitest";
import { queryKey } from "../src/adapter.js";
import { tableOfTag } from "../src/engine/tags.js";
import { createCacheWatch } from "../src/index.js";
import {
  QueryStatistics,
  queryShape,
  recorderOf,
  shapeOfKey,
  TimeSeriesRing,
} from "../src/observability/index.js";

describe("query shapes", () => {
  it("take the adapter's name, else the key without its parameters", () => {
    const key = queryKey(["kysely", "select * from users where id = $1"], [12345]) as string;
    expect(queryShape({ key, name: "select * from users where id = $1" }, key)).toBe(
      "select * from users where id = $1",
    );
    expect(shapeOfKey(key)).toBe("kysely select * from users where id = $1");
    expect(shapeOfKey(key)).not.toContain("12345");
  });

  it("never show parameter values: scoped keys, cached() keys and keys of unknown layout", () => {
    const scoped = `${queryKey(["raw", "select $1"], ["secret-param"])}\u0001scope\u0000tenant-7`;
    expect(shapeOfKey(scoped)).toBe("raw select $1");
    expect(shapeOfKey('cached:getUser#3:[{"email":"a@b.c"}]')).toBe("cached:getUser#3");
    expect(shapeOfKey("user:42:profile")).toBe("(unnamed)");
  });

  it("are bounded in length", () => {
    const shape = queryShape({ key: "k", name: "x".repeat(5000) }, "k");
    expect(shape.length).toBeLessThanOrEqual(200);
  });
});

describe("tables of dependency tags", () => {
  it("read table tags and row-level any-row tags, never a row tag's values", () => {
    expect(tableOfTag("t\u0000public\u0000users")).toBe("public.users");
    expect(tableOfTag("a\u0000audit\u0000log")).toBe("audit.log");
    expect(tableOfTag("r\u0000public\u0000users\u0000id\u000042")).toBeUndefined();
    expect(tableOfTag("c\u0000public\u0000users\u0000id")).toBeUndefined();
    expect(tableOfTag("u\u0000my-tag")).toBeUndefined();
  });
});

describe("QueryStatistics", () => {
  it("keeps at most maxShapes, forgetting the least recently seen", () => {
    const stats = new QueryStatistics(3);
    for (const name of ["a", "b", "c"]) stats.miss({ key: name, name }, name, false);
    stats.hit({ key: "a", name: "a" }, "a");
    stats.miss({ key: "d", name: "d" }, "d", false);
    expect(stats.size).toBe(3);
    expect(
      stats
        .all()
        .map((s) => s.shape)
        .sort(),
    ).toEqual(["a", "c", "d"]);
  });

  it("counts a joined caller as a miss and as joined, not as a hit", () => {
    const stats = new QueryStatistics();
    const request = { key: "k", name: "q" };
    stats.miss(request, "k", false);
    stats.loadStart(request, "k");
    stats.miss(request, "k", true);
    const [q] = stats.all();
    expect(q).toMatchObject({ hits: 0, misses: 2, joined: 1, loads: 1 });
  });
});

describe("the recorder on an engine (no change source)", () => {
  it("attributes hits, misses, loads, fills and invalidations to each shape, and tables to entries", async () => {
    const watch = createCacheWatch({ source: "none" });
    const recorder = recorderOf(watch);
    await watch.start();
    const read = (id: number) =>
      watch.load(
        {
          key: queryKey(["raw", "SELECT * FROM users WHERE id = $1"], [id]),
          name: "users by id",
          tables: ["users"],
        },
        async () => ({ id }),
      );
    const readPosts = () =>
      watch.load({ key: "posts", name: "all posts", tables: ["blog.posts"] }, async () => [1, 2, 3]);
    await read(1);
    await read(1);
    await read(2);
    await Promise.all([readPosts(), readPosts()]);
    expect(watch.tableUsage().sort((a, b) => a.table.localeCompare(b.table))).toEqual([
      { table: "blog.posts", entries: 1, bytes: expect.any(Number) },
      { table: "public.users", entries: 2, bytes: expect.any(Number) },
    ]);
    watch.invalidate({ tables: ["users"] });
    const byShape = Object.fromEntries(recorder.queries.all().map((q) => [q.shape, q]));
    expect(byShape["users by id"]).toMatchObject({
      hits: 1,
      misses: 2,
      loads: 2,
      stored: 2,
      invalidated: 2,
      tables: ["public.users"],
    });
    expect(byShape["all posts"]).toMatchObject({
      hits: 0,
      misses: 2,
      joined: 1,
      loads: 1,
      stored: 1,
      invalidated: 0,
    });
    expect(recorder.tables.list()[0]).toMatchObject({
      table: "public.users",
      invalidations: { manual: 1 },
      entriesDropped: 2,
    });
    recorder.close();
    await watch.stop();
  });
});

describe("TimeSeriesRing", () => {
  it("keeps the newest samples, oldest first", () => {
    const ring = new TimeSeriesRing<number>(3);
    for (let i = 1; i <= 5; i++) ring.push(i);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.last()).toBe(5);
  });
});
