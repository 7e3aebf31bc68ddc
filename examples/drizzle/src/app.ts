import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { createInspector } from "@pgcachewatch/core/observability";
import { pgCacheWatchCache } from "@pgcachewatch/drizzle";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import Fastify, { type FastifyInstance } from "fastify";
import pg from "pg";
import { posts, users } from "./schema.js";

export interface AppOptions {
  databaseUrl: string;
  logger?: boolean;
  /**
   * Mount the inspector page (live charts of the cache) at this path, e.g. "/inspector". Off by
   * default. It shows query shapes and table names: in a real app, mount it behind your own auth.
   */
  inspector?: string;
  /**
   * Serve reads through the cache (default true). `false` sends every read to PostgreSQL, for
   * comparing the same app with and without the cache (the benchmark's HTTP scenario does).
   */
  cache?: boolean;
}

export function buildApp({ databaseUrl, logger = false, cache = true, inspector }: AppOptions): {
  app: FastifyInstance;
  watch: CacheWatch;
} {
  const watch = createCacheWatch({ connectionString: databaseUrl });
  const pool = new pg.Pool({ connectionString: databaseUrl });
  const db = drizzle({ client: pool, cache: pgCacheWatchCache(watch) });

  const app = Fastify({ logger });
  pool.on("error", (error) => app.log.warn({ err: error }, "idle database connection closed"));
  // Start listening before serving; stop the listener and the pool when the app closes.
  app.addHook("onReady", () => watch.start());
  app.addHook("onClose", async () => {
    await watch.stop();
    await pool.end();
  });

  // A post with its author's name. $cached() derives both tables from the query: a change to
  // either one, by anyone, drops the cached result. Without $cached() the query runs as usual.
  app.get<{ Params: { id: number } }>(
    "/posts/:id",
    { schema: { params: { type: "object", properties: { id: { type: "integer" } } } } },
    async (request, reply) => {
      const query = db
        .select({ id: posts.id, title: posts.title, author: users.name, createdAt: posts.createdAt })
        .from(posts)
        .innerJoin(users, eq(users.id, posts.authorId))
        .where(eq(posts.id, request.params.id));
      const [post] = cache ? await query.$cached() : await query;
      if (!post) return reply.code(404).send({ error: "no such post" });
      return post;
    },
  );

  // A write through Drizzle invalidates its table as soon as it completes (no waiting for the event).
  app.patch<{ Params: { id: number }; Body: { title: string } }>(
    "/posts/:id",
    {
      schema: {
        params: { type: "object", properties: { id: { type: "integer" } } },
        body: {
          type: "object",
          required: ["title"],
          properties: { title: { type: "string", minLength: 1 } },
        },
      },
    },
    async (request, reply) => {
      const updated = await db
        .update(posts)
        .set({ title: request.body.title })
        .where(eq(posts.id, request.params.id))
        .returning({ id: posts.id });
      if (updated.length === 0) return reply.code(404).send({ error: "no such post" });
      return reply.code(204).send();
    },
  );

  if (inspector !== undefined) {
    // The inspector is a plain (req, res) handler: Fastify hands it the raw request and response.
    const handler = createInspector(watch, { title: "Drizzle example" });
    app.get(inspector, (request, reply) => {
      reply.hijack();
      handler(request.raw, reply.raw);
    });
    app.addHook("onClose", async () => handler.close());
  }

  return { app, watch };
}
