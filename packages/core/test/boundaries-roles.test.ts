import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CacheWatch, createCacheWatch } from "../src/index.js";
import { createTestTrigger } from "./support/notify-trigger.js";
import { createTestRoles, urlAs } from "./support/test-roles.js";
import { nextEvent } from "./support/wait.js";

// Two roles with different column privileges, on two pools with different credentials: the same
// SQL text must never hand one role what only the other may read.

const db = useTestDatabase("boundaries_roles");
let watch: CacheWatch;
let writer: pg.Client;
let roles: Awaited<ReturnType<typeof createTestRoles<"full" | "limited">>>;
let full: pg.Pool;
let limited: pg.Pool;

beforeAll(async () => {
  writer = await db.externalWriter();
  roles = await createTestRoles(writer, db.name, ["full", "limited"]);
  await writer.query(`
    CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL);
    INSERT INTO people VALUES (1, 'ada', 'ada@example.org');
    GRANT SELECT ON people TO "${roles.names.full}";
    GRANT SELECT (id, name) ON people TO "${roles.names.limited}";
  `);
  await createTestTrigger(writer, "people");
  full = new pg.Pool({ connectionString: urlAs(db.url, roles.names.full), max: 2 });
  limited = new pg.Pool({ connectionString: urlAs(db.url, roles.names.limited), max: 2 });
  watch = createCacheWatch({ connectionString: db.url });
  await watch.start();
});

afterAll(async () => {
  await watch?.stop();
  await full?.end();
  await limited?.end();
  await roles?.drop();
});

describe("two roles with different column privileges", () => {
  it("do not share entries: the limited role is refused the column it may not read, even after a fill", async () => {
    const everything = "SELECT * FROM people ORDER BY id";
    expect((await watch.query(full, everything)).rows).toEqual([
      { id: 1, name: "ada", email: "ada@example.org" },
    ]);
    const hits = watch.stats().hits;
    expect((await watch.query(full, everything)).rows).toHaveLength(1);
    expect(watch.stats().hits).toBe(hits + 1);
    await expect(watch.query(limited, everything)).rejects.toThrow(/permission denied/);
  });

  it("a read both may run is cached once per role, and a write drops both entries", async () => {
    const names = "SELECT id, name FROM people ORDER BY id";
    const before = watch.stats();
    expect((await watch.query(limited, names)).rows).toEqual([{ id: 1, name: "ada" }]);
    expect((await watch.query(full, names)).rows).toEqual([{ id: 1, name: "ada" }]);
    expect((await watch.query(limited, names)).rows).toEqual([{ id: 1, name: "ada" }]);
    expect((await watch.query(full, names)).rows).toEqual([{ id: 1, name: "ada" }]);
    expect(watch.stats().loads).toBe(before.loads + 2);
    expect(watch.stats().hits).toBe(before.hits + 2);

    const dropped = nextEvent(watch, "invalidate", (info) => info.tables.includes("public.people"));
    await writer.query("UPDATE people SET name = 'ada lovelace'");
    await dropped;
    expect((await watch.query(limited, names)).rows).toEqual([{ id: 1, name: "ada lovelace" }]);
    expect((await watch.query(full, names)).rows).toEqual([{ id: 1, name: "ada lovelace" }]);
  });
});
