import type { CacheWatch, InvalidateInfo } from "@pgcachewatch/core";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ensurePrismaClient } from "../scripts/generate-client.mjs";
import { setupDatabase } from "../src/setup.js";

const db = useTestDatabase("example_prisma");
let app: FastifyInstance;
let watch: CacheWatch;
let baseUrl: string;
let buildApp: typeof import("../src/app.js").buildApp;

beforeAll(async () => {
  // The generated client is not committed: produce it before the app module loads it.
  ensurePrismaClient();
  ({ buildApp } = await import("../src/app.js"));
  await setupDatabase(db.url);
  ({ app, watch } = buildApp({ databaseUrl: db.url }));
  baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await app?.close();
});

interface UserBody {
  id?: number;
  name?: string;
  posts?: { id: number; title: string }[];
  error?: string;
}

async function getUser(id: number): Promise<{ status: number; body: UserBody }> {
  const response = await fetch(`${baseUrl}/users/${id}`);
  return { status: response.status, body: (await response.json()) as UserBody };
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

test("GET /users/:id is cached and fresh after another client updates one of the included posts", async () => {
  const first = await getUser(3);
  expect(first).toEqual({
    status: 200,
    body: { id: 3, name: "Edsger Dijkstra", posts: [{ id: 3, title: "Go To Statement Considered Harmful" }] },
  });
  const before = watch.stats();
  expect(await getUser(3)).toEqual(first);
  expect(watch.stats().hits).toBe(before.hits + 1);
  expect(watch.stats().loads).toBe(before.loads);

  const writer = await db.externalWriter();
  const invalidated = nextChangeInvalidation("public.posts");
  await writer.query("UPDATE posts SET title = 'A Case against the GO TO Statement' WHERE id = 3");
  expect((await invalidated).entries).toBeGreaterThanOrEqual(1);

  expect((await getUser(3)).body.posts).toEqual([{ id: 3, title: "A Case against the GO TO Statement" }]);
});

test("another client's update of the user row is seen too", async () => {
  await getUser(1);
  const writer = await db.externalWriter();
  const invalidated = nextChangeInvalidation("public.users");
  await writer.query("UPDATE users SET name = 'Augusta Ada King' WHERE id = 1");
  await invalidated;
  expect((await getUser(1)).body).toMatchObject({ id: 1, name: "Augusta Ada King" });
});

test("a post created through the app is in the user's next read at once (read-your-writes)", async () => {
  await getUser(2);
  const reasons: string[] = [];
  const record = (info: InvalidateInfo) => {
    if (info.tables.includes("public.posts")) reasons.push(info.reason);
  };
  watch.on("invalidate", record);
  const response = await fetch(`${baseUrl}/users/2/posts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: "COBOL", body: "A common business-oriented language." }),
  });
  watch.off("invalidate", record);
  expect(response.status).toBe(201);
  // No waiting for the change event: the create itself invalidated posts before answering.
  expect(reasons).toContain("mutation");
  expect((await getUser(2)).body.posts?.map((p) => p.title)).toEqual(["The first bug", "COBOL"]);
});

test("an unknown user is a 404", async () => {
  expect((await getUser(999)).status).toBe(404);
});

test("with cache: false every read goes to PostgreSQL: no cache traffic, another client's write seen at once", async () => {
  const uncached = buildApp({ databaseUrl: db.url, cache: false });
  const url = await uncached.app.listen({ host: "127.0.0.1", port: 0 });
  const read = async () => (await (await fetch(`${url}/users/3`)).json()) as UserBody;
  const writer = await db.externalWriter();
  try {
    const before = await read();
    expect(await read()).toEqual(before);
    // No waiting for the change event: the next read runs the query again.
    await writer.query("UPDATE users SET name = 'E. W. Dijkstra' WHERE id = 3");
    expect(await read()).toMatchObject({ id: 3, name: "E. W. Dijkstra" });
    expect(uncached.watch.stats()).toMatchObject({ hits: 0, misses: 0, loads: 0 });
  } finally {
    await writer.query("UPDATE users SET name = 'Edsger Dijkstra' WHERE id = 3");
    await uncached.app.close();
  }
});
