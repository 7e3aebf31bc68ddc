import type { CacheWatch } from "@pgcachewatch/core";
import type pg from "pg";

/** The part of a Fastify app the HTTP scenario uses. */
interface ListeningApp {
  listen(options: { host: string; port: number }): Promise<string>;
  close(): Promise<unknown>;
}

/** One example app on loopback, cached or not. */
export interface RunningApp {
  /** http://127.0.0.1:port */
  baseUrl: string;
  watch: CacheWatch;
  close(): Promise<void>;
}

/** An example app from examples/ and the endpoint the HTTP scenario loads. */
export interface ExampleApp {
  /** Row label: the example's stack. */
  name: string;
  /** The route, as the example's README names it. */
  endpoint: string;
  /** The request path for one id of the rotation (ids start at 1). */
  path(id: number): string;
  /** Create the example's tables with its own setupDatabase (and anything it needs first). */
  setup(url: string): Promise<void>;
  /** Build the app with `cache` on or off and listen on 127.0.0.1, on a free port. */
  start(url: string, cache: boolean): Promise<RunningApp>;
}

async function listen({ app, watch }: { app: ListeningApp; watch: CacheWatch }): Promise<RunningApp> {
  const baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    baseUrl,
    watch,
    async close() {
      await app.close();
    },
  };
}

// Imported when the scenario runs: the ORMs (and Prisma's generated client) load only for it.
export const EXAMPLE_APPS: readonly ExampleApp[] = [
  {
    name: "Fastify + Drizzle",
    endpoint: "GET /posts/:id (select with a join, one row)",
    path: (id) => `/posts/${id}`,
    async setup(url) {
      const { setupDatabase } = await import("@pgcachewatch/example-drizzle");
      await setupDatabase(url);
    },
    async start(url, cache) {
      const { buildApp } = await import("@pgcachewatch/example-drizzle");
      return listen(buildApp({ databaseUrl: url, cache }));
    },
  },
  {
    name: "Fastify + Kysely",
    endpoint: "GET /posts/:id/comments (select with a join, 5 rows)",
    path: (id) => `/posts/${id}/comments`,
    async setup(url) {
      const { setupDatabase } = await import("@pgcachewatch/example-kysely");
      await setupDatabase(url);
    },
    async start(url, cache) {
      const { buildApp } = await import("@pgcachewatch/example-kysely");
      return listen(buildApp({ databaseUrl: url, cache }));
    },
  },
  {
    name: "Fastify + Prisma",
    endpoint: "GET /users/:id (findUnique with a relation, 10 posts)",
    path: (id) => `/users/${id}`,
    async setup(url) {
      // The example's client is generated, not committed: produce it before the app module loads it.
      const { ensurePrismaClient } = await import("@pgcachewatch/example-prisma/generate");
      ensurePrismaClient();
      const { setupDatabase } = await import("@pgcachewatch/example-prisma");
      await setupDatabase(url);
    },
    async start(url, cache) {
      const { buildApp } = await import("@pgcachewatch/example-prisma");
      return listen(buildApp({ databaseUrl: url, cache }));
    },
  },
];

/** Rows added to the examples' three-row seed, so the endpoints read from tables of some size. */
export const EXAMPLE_ROWS = { users: 1_000, posts: 10_000, comments: 50_000 } as const;

/**
 * Grow the examples' shared tables (users, posts, comments; created by their setupDatabase) to
 * EXAMPLE_ROWS: every user has 10 posts, every post 5 comments. Adds the foreign-key indexes an
 * application would have, so the uncached queries are index lookups like the cached ones' loads.
 */
export async function seedExampleTables(client: pg.ClientBase): Promise<void> {
  const { users, posts, comments } = EXAMPLE_ROWS;
  await client.query(
    `INSERT INTO users (id, name, email)
     SELECT g, 'User ' || g, 'user' || g || '@example.com' FROM generate_series(1, $1::int) AS g
     ON CONFLICT DO NOTHING`,
    [users],
  );
  await client.query(
    `INSERT INTO posts (id, author_id, title, body, created_at)
     SELECT g, 1 + (g - 1) % $2::int, 'Post number ' || g, repeat('Some words about post ' || g || '. ', 20),
            now() - g * interval '1 hour'
     FROM generate_series(1, $1::int) AS g
     ON CONFLICT DO NOTHING`,
    [posts, users],
  );
  await client.query(
    `INSERT INTO comments (id, post_id, author_id, body, created_at)
     SELECT g, 1 + (g - 1) % $2::int, 1 + (g * 7) % $3::int, 'Comment ' || g || ': ' || repeat('well said. ', 5),
            now() - g * interval '1 minute'
     FROM generate_series(1, $1::int) AS g
     ON CONFLICT DO NOTHING`,
    [comments, posts, users],
  );
  await client.query(`
    CREATE INDEX IF NOT EXISTS posts_author_id ON posts (author_id);
    CREATE INDEX IF NOT EXISTS comments_post_id ON comments (post_id);
    SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
    SELECT setval(pg_get_serial_sequence('posts', 'id'), (SELECT max(id) FROM posts));
    SELECT setval(pg_get_serial_sequence('comments', 'id'), (SELECT max(id) FROM comments));
    ANALYZE users, posts, comments;`);
}
