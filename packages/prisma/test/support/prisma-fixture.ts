import {
  type CacheWatch,
  type CacheWatchOptions,
  type ChangeEvent,
  createCacheWatch,
  type InvalidateInfo,
} from "@pgcachewatch/core";
import { formatNotifyPayload } from "@pgcachewatch/core/adapter";
import type { DatabaseFixture } from "@pgcachewatch/testdb/vitest";
import { PrismaPg } from "@prisma/adapter-pg";
import type pg from "pg";
import { type PgCacheWatchOptions, pgCacheWatch } from "../../src/index.js";
import { PrismaClient } from "../generated/client/client.js";
import { createTestSchema } from "./ddl.js";

export const CHANNEL = "pgcachewatch";

export function createExtendedClient(url: string, watch: CacheWatch, options: PgCacheWatchOptions = {}) {
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  return { base, prisma: base.$extends(pgCacheWatch({ watch, ...options })) };
}

export type ExtendedClient = ReturnType<typeof createExtendedClient>["prisma"];

export interface PrismaFixture {
  readonly prisma: ExtendedClient;
  readonly base: PrismaClient;
  readonly watch: CacheWatch;
  readonly writer: pg.Client;
  /**
   * Wait until the engine has received every notification committed so far (the triggers notify
   * asynchronously, so a previous test's writes could otherwise still invalidate in this one).
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Tables, triggers and seed rows in the file's database, an engine listening on it, and an extended client. */
export async function openPrismaFixture(
  db: DatabaseFixture,
  options: PgCacheWatchOptions = {},
  engine: Pick<CacheWatchOptions, "isolation"> = {},
): Promise<PrismaFixture> {
  const writer = await db.externalWriter();
  await createTestSchema(writer, CHANNEL);
  // Seeded before the listener starts, so no seed notification can arrive during a test.
  await seed(writer);
  const watch = createCacheWatch({ connectionString: db.url, channel: CHANNEL, ...engine });
  await watch.start();
  const { base, prisma } = createExtendedClient(db.url, watch, options);
  return {
    prisma,
    base,
    watch,
    writer,
    settle: () => settle(watch, writer),
    async close() {
      await prisma.$disconnect();
      await watch.stop();
    },
  };
}

let barriers = 0;

/** Notifications arrive in commit order: once a barrier sent now is received, all earlier ones were. */
export async function settle(watch: CacheWatch, writer: pg.Client): Promise<void> {
  const table = `barrier_${process.pid}_${++barriers}`;
  let onChange: ((event: ChangeEvent) => void) | undefined;
  const received = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("the settle barrier did not arrive within 10 s")),
      10_000,
    );
    onChange = (event) => {
      if (event.table === table) {
        clearTimeout(timer);
        resolve();
      }
    };
    watch.on("change", onChange);
  });
  try {
    await writer.query("SELECT pg_notify($1, $2)", [
      CHANNEL,
      formatNotifyPayload("pgcachewatch_test", table, "update"),
    ]);
    await received;
  } finally {
    if (onChange) watch.off("change", onChange);
  }
}

/** Run `write` and wait (bounded) until the engine reports that a change to `table` invalidated entries. */
export async function expectInvalidation(
  watch: CacheWatch,
  table: string,
  write: () => Promise<unknown>,
  reason: InvalidateInfo["reason"] = "change",
): Promise<InvalidateInfo> {
  let onInvalidate: ((info: InvalidateInfo) => void) | undefined;
  const seen = new Promise<InvalidateInfo>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${reason} invalidation of ${table} within 10 s`)),
      10_000,
    );
    onInvalidate = (info) => {
      if (info.reason === reason && info.tables.includes(table)) {
        clearTimeout(timer);
        resolve(info);
      }
    };
    watch.on("invalidate", onInvalidate);
  });
  try {
    await write();
    return await seen;
  } finally {
    if (onInvalidate) watch.off("invalidate", onInvalidate);
  }
}

/** Counter deltas of the engine around `fn`. */
export async function statsDelta<T>(watch: CacheWatch, fn: () => Promise<T>) {
  const before = watch.stats();
  const value = await fn();
  const after = watch.stats();
  return {
    value,
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    bypassed: after.bypassed - before.bypassed,
  };
}

/** Seed: Alice manages Bob; Alice wrote two posts, one tagged; Bob wrote one; Bob has a profile; one measurement. */
export async function seed(writer: pg.Client): Promise<void> {
  await writer.query(`
    INSERT INTO public.users (id, email, display_name) VALUES (1, 'alice@example.com', 'Alice');
    INSERT INTO public.users (id, email, display_name, manager_id) VALUES (2, 'bob@example.com', 'Bob', 1);
    SELECT setval('public.users_id_seq', 10);
    INSERT INTO public.posts (id, title, published, author_id) VALUES (1, 'Hello', true, 1), (2, 'Draft', false, 1), (3, 'By Bob', true, 2);
    SELECT setval('public.posts_id_seq', 10);
    INSERT INTO public."Tag" (id, name) VALUES (1, 'intro'), (2, 'news');
    SELECT setval('public."Tag_id_seq"', 10);
    INSERT INTO public."_PostToTag" ("A", "B") VALUES (1, 1);
    INSERT INTO audit."Profile" (id, bio, user_id) VALUES (1, 'Builder', 2);
    SELECT setval('audit."Profile_id_seq"', 10);
    INSERT INTO audit.measurements (id, price, big, blob, taken_at, data)
      VALUES (1, 12.345678, 9007199254740993, '\\x00ff10', '2024-02-29 12:34:56.789', '{"a": [1, {"b": null}]}');
    SELECT setval('audit.measurements_id_seq', 10);
  `);
}
