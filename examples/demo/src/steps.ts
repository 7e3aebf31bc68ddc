import type { TourStep } from "./tour.js";

interface UserBody {
  name?: unknown;
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
    title: "Drizzle",
    example: "examples/drizzle",
    unavailable: "@pgcachewatch/drizzle is not in this build",
    start: notAvailable,
    path: "",
    warmupPath: "",
    show: () => "",
    write: "",
    isFresh: () => false,
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
    title: "Kysely",
    example: "examples/kysely",
    unavailable: "@pgcachewatch/kysely is not in this build",
    start: notAvailable,
    path: "",
    warmupPath: "",
    show: () => "",
    write: "",
    isFresh: () => false,
  },
];

function notAvailable(): never {
  throw new Error("this step is not available");
}
