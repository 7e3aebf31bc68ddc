import type { TourStep } from "./tour.js";

interface UserBody {
  name?: unknown;
}

interface CommentBody {
  body: string;
}

interface PostBody {
  author?: unknown;
}

/** The tour, in order. Each step runs one example app from this repository. */
export const STEPS: readonly TourStep[] = [
  {
    id: "cached()",
    title: "cached() + Greedy strategy, raw pg (the original example)",
    example: "examples/raw-pg",
    async start(databaseUrl) {
      const { buildApp } = await import("@pgcachewatch/example-raw-pg");
      return buildApp({ databaseUrl });
    },
    path: "/data?user_id=1",
    warmupPath: "/data?user_id=2",
    show: (body) => `name: ${JSON.stringify((body as UserBody).name)}`,
    write: "UPDATE users SET name = 'Ada King' WHERE id = 1",
    isFresh: (body) => (body as UserBody).name === "Ada King",
  },
  {
    id: "drizzle",
    title: "Drizzle: $cached() on a select with a join",
    example: "examples/drizzle",
    async start(databaseUrl) {
      const { buildApp } = await import("@pgcachewatch/example-drizzle");
      return buildApp({ databaseUrl });
    },
    path: "/posts/2",
    warmupPath: "/posts/1",
    show: (body) => `author: ${JSON.stringify((body as PostBody).author)}`,
    // The post's row is untouched: the joined table changed.
    write: "UPDATE users SET name = 'Grace B. Hopper' WHERE id = 2",
    isFresh: (body) => (body as PostBody).author === "Grace B. Hopper",
  },
  {
    id: "prisma",
    title: "Prisma",
    example: "examples/prisma",
    unavailable: "@pgcachewatch/prisma is not in this build",
    start: notAvailable,
    path: "",
    warmupPath: "",
    show: () => "",
    write: "",
    isFresh: () => false,
  },
  {
    id: "kysely",
    title: "Kysely: cached() on a select with a join",
    example: "examples/kysely",
    async start(databaseUrl) {
      const { buildApp } = await import("@pgcachewatch/example-kysely");
      return buildApp({ databaseUrl });
    },
    path: "/posts/1/comments",
    warmupPath: "/posts/2/comments",
    show: (body) => `bodies: ${JSON.stringify((body as CommentBody[]).map((c) => c.body))}`,
    write: "UPDATE comments SET body = 'Correct.' WHERE id = 2",
    isFresh: (body) => (body as CommentBody[]).some((c) => c.body === "Correct."),
  },
];

function notAvailable(): never {
  throw new Error("this step is not available");
}
