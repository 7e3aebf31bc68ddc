import { type CacheWatch, createCacheWatch } from "@pgcachewatch/core";
import { createInspector } from "@pgcachewatch/core/observability";
import { pgCacheWatch } from "@pgcachewatch/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import Fastify, { type FastifyInstance } from "fastify";
import { PrismaClient } from "./generated/client/client.js";

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
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) }).$extends(
    pgCacheWatch({ watch }),
  );

  const app = Fastify({ logger });
  // Start listening before serving; stop the listener and disconnect Prisma when the app closes.
  app.addHook("onReady", () => watch.start());
  app.addHook("onClose", async () => {
    await prisma.$disconnect();
    await watch.stop();
  });

  // A user with the titles of their posts. The extension derives both tables (users, and posts via
  // the include): a change to either one, by anyone, drops the cached result. The extension caches
  // every read; `cache: false` in a call's arguments sends that one to PostgreSQL.
  app.get<{ Params: { id: number } }>(
    "/users/:id",
    { schema: { params: { type: "object", properties: { id: { type: "integer" } } } } },
    async (request, reply) => {
      const user = await prisma.user.findUnique({
        where: { id: request.params.id },
        select: {
          id: true,
          name: true,
          posts: { select: { id: true, title: true }, orderBy: { id: "asc" } },
        },
        ...(cache ? {} : { cache: false }),
      });
      if (user === null) return reply.code(404).send({ error: "no such user" });
      return user;
    },
  );

  // A write through Prisma invalidates the tables it touches as soon as it completes.
  app.post<{ Params: { id: number }; Body: { title: string; body: string } }>(
    "/users/:id/posts",
    {
      schema: {
        params: { type: "object", properties: { id: { type: "integer" } } },
        body: {
          type: "object",
          required: ["title", "body"],
          properties: { title: { type: "string", minLength: 1 }, body: { type: "string" } },
        },
      },
    },
    async (request, reply) => {
      const post = await prisma.post.create({
        data: { authorId: request.params.id, title: request.body.title, body: request.body.body },
        select: { id: true, title: true },
      });
      return reply.code(201).send(post);
    },
  );

  if (inspector !== undefined) {
    // The inspector is a plain (req, res) handler: Fastify hands it the raw request and response.
    const handler = createInspector(watch, { title: "Prisma example" });
    app.get(inspector, (request, reply) => {
      reply.hijack();
      handler(request.raw, reply.raw);
    });
    app.addHook("onClose", async () => handler.close());
  }

  return { app, watch };
}
