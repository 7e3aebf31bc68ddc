import type { CacheWatch, InvalidateInfo } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildApp } from "../src/app.js";
import { setupDatabase } from "../src/setup.js";

const db = useTestDatabase("example_kysely");
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

interface CommentBody {
  id: number;
  body: string;
  author: string;
}

async function getComments(postId: number): Promise<{ status: number; body: CommentBody[] }> {
  const response = await fetch(`${baseUrl}/posts/${postId}/comments`);
  return { status: response.status, body: (await response.json()) as CommentBody[] };
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

test("GET /posts/:id/comments is cached and fresh after another client updates a comment", async () => {
  const first = await getComments(1);
  expect(first).toEqual({
    status: 200,
    body: [
      { id: 1, body: "Beautiful.", author: "Grace Hopper" },
      { id: 2, body: "Elegant, and correct.", author: "Edsger Dijkstra" },
    ],
  });
  const before = watch.stats();
  expect(await getComments(1)).toEqual(first);
  expect(watch.stats().hits).toBe(before.hits + 1);
  expect(watch.stats().loads).toBe(before.loads);

  const writer = await db.externalWriter();
  const invalidated = nextChangeInvalidation("public.comments");
  await writer.query("UPDATE comments SET body = 'Elegant, correct, and short.' WHERE id = 2");
  expect((await invalidated).entries).toBeGreaterThanOrEqual(1);

  expect((await getComments(1)).body[1]).toEqual({
    id: 2,
    body: "Elegant, correct, and short.",
    author: "Edsger Dijkstra",
  });
});

test("a change to the joined users table is seen too", async () => {
  await getComments(2);
  const writer = await db.externalWriter();
  const invalidated = nextChangeInvalidation("public.users");
  await writer.query("UPDATE users SET name = 'Augusta Ada King' WHERE id = 1");
  await invalidated;
  expect((await getComments(2)).body).toEqual([
    { id: 3, body: "A fine specimen.", author: "Augusta Ada King" },
  ]);
});

test("a comment added through the app is in the next read at once (read-your-writes)", async () => {
  await getComments(3);
  const reasons: string[] = [];
  const record = (info: InvalidateInfo) => {
    if (info.tables.includes("public.comments")) reasons.push(info.reason);
  };
  watch.on("invalidate", record);
  const response = await fetch(`${baseUrl}/posts/3/comments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ authorId: 1, body: "Considered." }),
  });
  watch.off("invalidate", record);
  expect(response.status).toBe(201);
  // No waiting for the change event: the insert itself invalidated comments before answering.
  expect(reasons).toContain("mutation");
  expect((await getComments(3)).body.map((c) => c.body)).toEqual(["Strong words.", "Considered."]);
});

test("with cache: false every read goes to PostgreSQL: no cache traffic, another client's write seen at once", async () => {
  const uncached = buildApp({ databaseUrl: db.url, cache: false });
  const url = await uncached.app.listen({ host: "127.0.0.1", port: 0 });
  const read = async () => (await (await fetch(`${url}/posts/2/comments`)).json()) as CommentBody[];
  const writer = await db.externalWriter();
  try {
    const before = await read();
    expect(await read()).toEqual(before);
    // No waiting for the change event: the next read runs the query again.
    await writer.query("UPDATE comments SET body = 'A moth.' WHERE id = 3");
    expect((await read()).map((c) => c.body)).toEqual(["A moth."]);
    expect(uncached.watch.stats()).toMatchObject({ hits: 0, misses: 0, loads: 0 });
  } finally {
    await writer.query("UPDATE comments SET body = 'A fine specimen.' WHERE id = 3");
    await uncached.app.close();
  }
});
