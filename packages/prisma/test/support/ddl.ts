import { installTriggers } from "@pgcachewatch/core/triggers";
import type pg from "pg";

/** The test schema's tables, as `prisma migrate` would create them (it cannot run here). */
export const TEST_SCHEMA_DDL = `
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE public.users (
  id serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  display_name text NOT NULL,
  manager_id integer REFERENCES public.users(id) ON DELETE SET NULL,
  created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE public.posts (
  id serial PRIMARY KEY,
  title text NOT NULL,
  published boolean NOT NULL DEFAULT false,
  author_id integer NOT NULL REFERENCES public.users(id) ON DELETE CASCADE
);
CREATE TABLE public."Tag" (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE
);
CREATE TABLE public."_PostToTag" (
  "A" integer NOT NULL REFERENCES public.posts(id) ON DELETE CASCADE ON UPDATE CASCADE,
  "B" integer NOT NULL REFERENCES public."Tag"(id) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT "_PostToTag_AB_pkey" PRIMARY KEY ("A", "B")
);
CREATE INDEX "_PostToTag_B_index" ON public."_PostToTag"("B");
CREATE TABLE audit."Profile" (
  id serial PRIMARY KEY,
  bio text NOT NULL,
  user_id integer NOT NULL UNIQUE REFERENCES public.users(id) ON DELETE CASCADE
);
CREATE TABLE audit.measurements (
  id serial PRIMARY KEY,
  price decimal(20, 6) NOT NULL,
  big bigint NOT NULL,
  blob bytea NOT NULL,
  taken_at timestamp(3) NOT NULL,
  data jsonb NOT NULL
);
`;

export const TEST_TABLES = [
  { schema: "public", table: "users" },
  { schema: "public", table: "posts" },
  { schema: "public", table: "Tag" },
  { schema: "public", table: "_PostToTag" },
  { schema: "audit", table: "Profile" },
  { schema: "audit", table: "measurements" },
] as const;

/** The schema's tables, and the engine's statement-level NOTIFY triggers on every one of them. */
export async function createTestSchema(client: pg.Client, channel: string): Promise<void> {
  await client.query(TEST_SCHEMA_DDL);
  await installTriggers(client, { tables: TEST_TABLES, channel });
}
