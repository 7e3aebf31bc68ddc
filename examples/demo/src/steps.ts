import { performance } from "node:perf_hooks";
import { FLEET_STEP } from "./fleet.js";
import { ms } from "./output.js";
import type { TourStep } from "./tour.js";

interface UserBody {
  name?: unknown;
  posts?: { title: string }[];
}

interface PostBody {
  author?: unknown;
}

interface CommentBody {
  body: string;
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
    async start(databaseUrl, options) {
      const { buildApp } = await import("@pgcachewatch/example-raw-pg");
      return buildApp({ databaseUrl, ...options });
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
    async start(databaseUrl, options) {
      const { buildApp } = await import("@pgcachewatch/example-drizzle");
      return buildApp({ databaseUrl, ...options });
    },
    path: "/posts/2",
    warmupPath: "/posts/1",
    show: (body) => `author: ${JSON.stringify((body as PostBody).author)}`,
    // Another post: the cached read is of post 2.
    otherRowWrite: "UPDATE posts SET title = 'Sketch of the Analytical Engine' WHERE id = 1",
    // The post's row is untouched: the joined table changed.
    write: "UPDATE users SET name = 'Grace B. Hopper' WHERE id = 2",
    isFresh: (body) => (body as PostBody).author === "Grace B. Hopper",
  },
  {
    id: "prisma",
    title: "Prisma: findUnique with a relation",
    example: "examples/prisma",
    async prepare() {
      const { ensurePrismaClient } = await import("@pgcachewatch/example-prisma/generate");
      const started = performance.now();
      return ensurePrismaClient()
        ? `generated the Prisma client (first run only, ${ms(performance.now() - started)})`
        : undefined;
    },
    async start(databaseUrl, options) {
      const { buildApp } = await import("@pgcachewatch/example-prisma");
      return buildApp({ databaseUrl, ...options });
    },
    path: "/users/3",
    warmupPath: "/users/2",
    show: (body) => `posts: ${JSON.stringify((body as UserBody).posts?.map((p) => p.title))}`,
    // A post of another user: the cached read is of user 3 and their posts.
    otherRowWrite: "UPDATE posts SET body = 'A letter, reprinted.' WHERE id = 2",
    // The user's row is untouched: a post reached through `select: { posts }` changed.
    write: "UPDATE posts SET title = 'On GOTO' WHERE id = 3",
    isFresh: (body) => (body as UserBody).posts?.[0]?.title === "On GOTO",
  },
  {
    id: "kysely",
    title: "Kysely: cached() on a select with a join",
    example: "examples/kysely",
    async start(databaseUrl, options) {
      const { buildApp } = await import("@pgcachewatch/example-kysely");
      return buildApp({ databaseUrl, ...options });
    },
    path: "/posts/1/comments",
    warmupPath: "/posts/2/comments",
    show: (body) => `bodies: ${JSON.stringify((body as CommentBody[]).map((c) => c.body))}`,
    // A comment on post 3: the cached read is of post 1's comments.
    otherRowWrite: "UPDATE comments SET body = 'Strong, true words.' WHERE id = 4",
    write: "UPDATE comments SET body = 'Correct.' WHERE id = 2",
    isFresh: (body) => (body as CommentBody[]).some((c) => c.body === "Correct."),
  },
  FLEET_STEP,
];
