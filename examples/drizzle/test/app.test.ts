import type { CacheWatch, InvalidateInfo } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildApp } from "../src/app.js";
import { setupDatabase } from "../src/setup.js";

const db = useTestDatabase("example_drizzle");
let app: FastifyInstance;
let watch: CacheWatch;
let baseUrl: string;

beforeAll(async () => {
  await setupDatabase(db.url);
  ({ app, watch } = buildApp({ databaseUrl: db.url }));
  baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await app?.close();
});

async function getPost(id: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/posts/${id}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The next invalidation of `table` caused by a change event from PostgreSQL. */
function nextChangeInvalidation(table: string, timeoutMs = 5000): Promise<InvalidateInfo> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      watch.off("invalidate", onInvalidate);
      reject(new Error(`no change event for ${table} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onInvalidate = (info: InvalidateInfo) => {
      if (info.reason !== "change" || !info.tables.includes(table)) return;
      clearTimeout(timer);
      watch.off("invalidate", onInvalidate);
      resolve(info);
    };
    watch.on("invalidate", onInvalidate);
  });
}

test("GET /posts/:id is cached and fresh after another client updates the joined users table", async () => {
  const first = await getPost(2);
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ id: 2, title: "The first bug", author: "Grace Hopper" });
  const before = watch.stats();
  expect(await getPost(2)).toEqual(first);
  expect(watch.stats().hits).toBe(before.hits + 1);
  expect(watch.stats().loads).toBe(before.loads);

  const writer = await db.externalWriter();
  const invalidated = nextChangeInvalidation("public.users");
  await writer.query("UPDATE users SET name = 'Grace Brewster Hopper' WHERE id = 2");
  expect((await invalidated).entries).toBeGreaterThanOrEqual(1);

  expect((await getPost(2)).body).toMatchObject({ id: 2, author: "Grace Brewster Hopper" });
});

test("another client's update of the post itself is seen too", async () => {
  await getPost(3);
  const writer = await db.externalWriter();
  const invalidated = nextChangeInvalidation("public.posts");
  await writer.query("UPDATE posts SET title = 'On GOTO' WHERE id = 3");
  await invalidated;
  expect((await getPost(3)).body).toMatchObject({ id: 3, title: "On GOTO" });
});

test("a write through the app is visible to its next read at once (read-your-writes)", async () => {
  await getPost(1);
  const reasons: string[] = [];
  const record = (info: InvalidateInfo) => {
    if (info.tables.includes("public.posts")) reasons.push(info.reason);
  };
  watch.on("invalidate", record);
  const response = await fetch(`${baseUrl}/posts/1`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: "Sketch of the Analytical Engine" }),
  });
  expect(response.status).toBe(204);
  watch.off("invalidate", record);
  // No waiting for the change event: the mutation itself invalidated posts before answering.
  expect(reasons).toContain("mutation");
  expect((await getPost(1)).body).toMatchObject({ title: "Sketch of the Analytical Engine" });
});

test("an unknown post is a 404", async () => {
  expect((await getPost(999)).status).toBe(404);
});

test("with cache: false every read goes to PostgreSQL: no cache traffic, another client's write seen at once", async () => {
  const uncached = buildApp({ databaseUrl: db.url, cache: false });
  const url = await uncached.app.listen({ host: "127.0.0.1", port: 0 });
  const read = async () => (await (await fetch(`${url}/posts/2`)).json()) as Record<string, unknown>;
  const writer = await db.externalWriter();
  try {
    const before = await read();
    expect(await read()).toEqual(before);
    // No waiting for the change event: the next read runs the query again.
    await writer.query("UPDATE posts SET title = 'Moth' WHERE id = 2");
    expect(await read()).toMatchObject({ id: 2, title: "Moth" });
    expect(uncached.watch.stats()).toMatchObject({ hits: 0, misses: 0, loads: 0 });
  } finally {
    await writer.query("UPDATE posts SET title = 'The first bug' WHERE id = 2");
    await uncached.app.close();
  }
});
