import { type CacheWatch, cached } from "@pgcachewatch/core";
import { Greedy, PGEventQueue } from "@pgcachewatch/core/compat";
import { createInspector } from "@pgcachewatch/core/observability";
import Fastify, { type FastifyInstance } from "fastify";
import pg from "pg";

export interface AppOptions {
  databaseUrl: string;
  logger?: boolean;
  /**
   * Mount the inspector page (live charts of the cache) at this path, e.g. "/inspector". Off by
   * default. It shows query shapes and table names: in a real app, mount it behind your own auth.
   */
  inspector?: string;
}

export interface User {
  id: number;
  name: string;
  email: string;
}

export function buildApp({ databaseUrl, logger = false, inspector }: AppOptions): {
  app: FastifyInstance;
  watch: CacheWatch;
} {
  // Initialize a PGEventQueue listener to listen for database events.
  const listener = new PGEventQueue({ connectionString: databaseUrl });
  const pool = new pg.Pool({ connectionString: databaseUrl });

  // Create the Fastify app: connect the listener at startup, close it (and the pool) on app close.
  const app = Fastify({ logger });
  // An idle pooled connection can be closed by the server (restart, admin); without a handler that crashes the process.
  pool.on("error", (error) => app.log.warn({ err: error }, "idle database connection closed"));
  app.addHook("onReady", async () => {
    // Resolves once LISTEN is established.
    await listener.connect();
  });
  app.addHook("onClose", async () => {
    await listener.close();
    await pool.end();
  });

  // Wrap the query function with cache invalidation logic.
  const cachedQuery = cached(
    async (userId: number): Promise<User | null> => {
      const { rows } = await pool.query<User>("SELECT id, name, email FROM users WHERE id = $1", [userId]);
      return rows[0] ?? null;
    },
    {
      strategy: new Greedy({
        listener,
        // Invalidate the cache only for 'update' operations on the database.
        predicate: (event) => event.operation === "update",
      }),
    },
  );

  // Define a route to fetch data, using the cached query function.
  app.get<{ Querystring: { user_id: number } }>(
    "/data",
    {
      schema: {
        querystring: {
          type: "object",
          required: ["user_id"],
          properties: { user_id: { type: "integer" } },
        },
      },
    },
    async (request, reply) => {
      // Fetch and return the data using the cached query function.
      const user = await cachedQuery(request.query.user_id);
      if (user === null) return reply.code(404).send({ error: "no such user" });
      return user;
    },
  );

  if (inspector !== undefined) {
    // The inspector is a plain (req, res) handler: Fastify hands it the raw request and response.
    const handler = createInspector(listener, { title: "raw pg example (cached())" });
    app.get(inspector, (request, reply) => {
      reply.hijack();
      handler(request.raw, reply.raw);
    });
    app.addHook("onClose", async () => handler.close());
  }

  return { app, watch: listener };
}
