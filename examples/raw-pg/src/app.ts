import { type CacheWatch, cached, Greedy, PGEventQueue } from "@pgcachewatch/core";
import Fastify, { type FastifyInstance } from "fastify";
import pg from "pg";

export interface AppOptions {
  databaseUrl: string;
  logger?: boolean;
}

export interface User {
  id: number;
  name: string;
  email: string;
}

export function buildApp({ databaseUrl, logger = false }: AppOptions): {
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

  return { app, watch: listener };
}
