import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { createInspector } from "@pgcachewatch/core/observability";
import { cached, pgCacheWatch } from "@pgcachewatch/kysely";
import Fastify, { type FastifyInstance } from "fastify";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";

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
  // The plugin follows each query; the wrapped dialect answers hits before a pool connection is taken.
  const pgCache = pgCacheWatch(watch);
  const db = new Kysely<Database>({
    dialect: pgCache.dialect(new PostgresDialect({ pool })),
    plugins: [pgCache],
  });

  const app = Fastify({ logger });
  pool.on("error", (error) => app.log.warn({ err: error }, "idle database connection closed"));
  // Start listening before serving; stop the listener and close Kysely (and its pool) when the app closes.
  app.addHook("onReady", () => watch.start());
  app.addHook("onClose", async () => {
    await watch.stop();
    await db.destroy();
  });

  // The comments of a post with their authors' names. cached() opts the query in; its tables
  // (comments, users) come from the query tree: a change to either one drops the result.
  app.get<{ Params: { id: number } }>(
    "/posts/:id/comments",
    { schema: { params: { type: "object", properties: { id: { type: "integer" } } } } },
    async (request) => {
      const query = db
        .selectFrom("comments")
        .innerJoin("users", "users.id", "comments.author_id")
        .select(["comments.id", "comments.body", "users.name as author"])
        .where("comments.post_id", "=", request.params.id)
        .orderBy("comments.id");
      return cache ? query.$call(cached()).execute() : query.execute();
    },
  );

  // A write through Kysely invalidates its table as soon as it completes.
  app.post<{ Params: { id: number }; Body: { authorId: number; body: string } }>(
    "/posts/:id/comments",
    {
      schema: {
        params: { type: "object", properties: { id: { type: "integer" } } },
        body: {
          type: "object",
          required: ["authorId", "body"],
          properties: { authorId: { type: "integer" }, body: { type: "string", minLength: 1 } },
        },
      },
    },
    async (request, reply) => {
      const comment = await db
        .insertInto("comments")
        .values({ post_id: request.params.id, author_id: request.body.authorId, body: request.body.body })
        .returning(["id", "body"])
        .executeTakeFirstOrThrow();
      return reply.code(201).send(comment);
    },
  );

  if (inspector !== undefined) {
    // The inspector is a plain (req, res) handler: Fastify hands it the raw request and response.
    const handler = createInspector(watch, { title: "Kysely example" });
    app.get(inspector, (request, reply) => {
      reply.hijack();
      handler(request.raw, reply.raw);
    });
    app.addHook("onClose", async () => handler.close());
  }

  return { app, watch };
}
