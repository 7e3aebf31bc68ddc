import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cached } from "../src/index.js";
import { type KyselyFixture, openFixture } from "./support/fixture.js";
import { READ_SHAPES, WRITE_SHAPES } from "./support/shapes.js";
import { changeOf, nextEvent } from "./support/wait.js";

const database = useTestDatabase("kysely_shapes");
let f: KyselyFixture;

beforeAll(async () => {
  f = await openFixture(database);
});
afterAll(async () => {
  await f?.close();
});

describe("every query shape against PostgreSQL, with an external raw pg writer", () => {
  it.each(READ_SHAPES.map((shape) => [shape.name, shape] as const))(
    "%s: miss, hit without the pool, external write, fresh result",
    async (_name, shape) => {
      const query = shape.build(f.db);
      const marker = shape.declare ? cached({ tables: shape.declare }) : cached();
      const compiled = query.compile();
      const truth = async () => (await f.writer.query(compiled.sql, [...compiled.parameters])).rows;

      const before = f.watch.stats();
      const miss = await query.run(marker);
      expect(miss).toEqual(await truth());
      expect(f.watch.stats().loads).toBe(before.loads + 1);

      const checkouts = f.poolCheckouts();
      const hit = await query.run(marker);
      expect(hit).toEqual(miss);
      expect(hit).not.toBe(miss);
      expect(f.watch.stats().hits).toBe(before.hits + 1);
      expect(f.poolCheckouts()).toBe(checkouts);

      const changed = changeOf(f.watch, shape.changed);
      await f.writer.query(shape.write);
      await changed;

      const fresh = await query.run(marker);
      expect(fresh).not.toEqual(miss);
      expect(fresh).toEqual(await truth());
      expect(f.watch.stats().loads).toBe(before.loads + 2);
    },
  );

  it("raw sql reading two tables, no tables named: miss, hit, an external write to each table, fresh", async () => {
    const query = sql<{ name: string; title: string }>`
      select u.name, p.title from users u join posts p on p.user_id = u.id where u.id = ${1} order by p.id`;
    const read = async () => (await query.withPlugin(cached()).execute(f.db)).rows;
    const truth = async () => {
      const compiled = query.compile(f.db);
      return (await f.writer.query(compiled.sql, [...compiled.parameters])).rows;
    };
    const before = f.watch.stats();
    const miss = await read();
    expect(miss).toEqual(await truth());
    const hit = await read();
    expect(hit).toEqual(miss);
    expect(f.watch.stats().hits).toBe(before.hits + 1);
    expect(f.watch.stats().loads).toBe(before.loads + 1);
    let last = miss;
    for (const [table, write] of [
      ["public.users", "UPDATE users SET name = name || '+' WHERE id = 1"],
      ["public.posts", "UPDATE posts SET title = title || '+' WHERE user_id = 1"],
    ] as const) {
      const changed = changeOf(f.watch, table);
      await f.writer.query(write);
      await changed;
      const fresh = await read();
      expect(fresh).not.toEqual(last);
      expect(fresh).toEqual(await truth());
      expect(await read()).toEqual(fresh);
      last = fresh;
    }
    expect(f.watch.stats().loads).toBe(before.loads + 3);
  });

  it("a user function that reads another table is not cached unless its tables are named", async () => {
    const query = () =>
      f.db
        .selectFrom("users")
        .select("name")
        .where(sql<boolean>`name in (select admin_names())`)
        .$call(cached())
        .execute();
    const before = f.watch.stats();
    const uncached: string[] = [];
    f.watch.on("uncached", (info) => uncached.push(info.reason));
    expect(await query()).toEqual(await query());
    expect(f.watch.stats().hits).toBe(before.hits);
    expect(f.watch.stats().fillsUncacheable).toBe(before.fillsUncacheable + 2);
    expect(uncached[0]).toMatch(/admin_names/);
  });

  it("a query that reads no table is cached (a constant depends on nothing); now() is not", async () => {
    const before = f.watch.stats();
    const constant = () =>
      f.db
        .selectNoFrom((eb) => eb.val(1).as("one"))
        .$call(cached())
        .execute();
    expect(await constant()).toEqual([{ one: "1" }]);
    expect(await constant()).toEqual([{ one: "1" }]);
    expect(f.watch.stats().hits).toBe(before.hits + 1);
    const clock = () => sql<{ t: Date }>`select now() as t`.withPlugin(cached()).execute(f.db);
    await clock();
    await clock();
    expect(f.watch.stats().hits).toBe(before.hits + 1);
    expect(f.watch.stats().fillsUncacheable).toBe(before.fillsUncacheable + 2);
  });

  it("queries without cached() are not cached (opt-in)", async () => {
    const before = f.watch.stats();
    await f.db.selectFrom("users").selectAll().execute();
    await f.db.selectFrom("users").selectAll().execute();
    const after = f.watch.stats();
    expect([after.hits, after.misses, after.bypassed]).toEqual([before.hits, before.misses, before.bypassed]);
  });
});

describe("writes through Kysely invalidate their target on completion (read-your-writes, rule 4)", () => {
  // user_settings has no trigger: only the adapter can invalidate it.
  const readSettings = () =>
    f.db.selectFrom("user_settings").selectAll().orderBy("user_id").$call(cached()).execute();

  it.each(WRITE_SHAPES.map((shape) => [shape.name, shape] as const))("%s", async (_name, shape) => {
    await readSettings();
    const before = f.watch.stats();
    expect(await readSettings()).toBeDefined();
    expect(f.watch.stats().hits).toBe(before.hits + 1);

    const invalidated = nextEvent(
      f.watch,
      "invalidate",
      (info) => info.reason === "mutation" && info.tables.includes("public.user_settings"),
    );
    await shape.build(f.db).run(cached());
    await invalidated;

    const after = await readSettings();
    expect(after).toEqual((await f.writer.query("SELECT * FROM user_settings ORDER BY user_id")).rows);
    expect(f.watch.stats().loads).toBe(before.loads + 1);
  });

  it("an update is visible to the very next cached read, with no trigger on the table", async () => {
    const before = await readSettings();
    await f.db
      .updateTable("user_settings")
      .set({ dark_mode: sql<boolean>`not dark_mode` })
      .where("user_id", "=", 1)
      .execute();
    const after = await readSettings();
    expect(after.find((r) => r.user_id === 1)?.dark_mode).toBe(
      !before.find((r) => r.user_id === 1)?.dark_mode,
    );
  });

  it("writes and EXPLAIN marked cached never go through the cache: two concurrent identical raw inserts both run", async () => {
    const cachedDb = f.db.withPlugin(cached());
    const count = async () => Number((await f.writer.query("SELECT count(*) FROM archive")).rows[0].count);
    const before = await count();
    const insert = () => sql`insert into archive (title) values (${"same"})`.execute(cachedDb);
    await Promise.all([insert(), insert()]);
    expect(await count()).toBe(before + 2);
    const hits = f.watch.stats().hits;
    const explain = () =>
      cachedDb
        .selectFrom("users")
        .selectAll()
        .$call(cached({ tables: ["users"] }))
        .explain();
    await explain();
    await explain();
    expect(f.watch.stats().hits).toBe(hits);
  });

  it("a data-modifying CTE under a SELECT runs every time, even when marked cached", async () => {
    const flip = () =>
      f.db
        .with("flipped", (qb) =>
          qb
            .updateTable("user_settings")
            .set({ dark_mode: sql<boolean>`not dark_mode` })
            .where("user_id", "=", 2)
            .returning("dark_mode"),
        )
        .selectFrom("flipped")
        .selectAll()
        .$call(cached())
        .execute();
    const [first] = await flip();
    const [second] = await flip();
    expect(second?.dark_mode).toBe(!first?.dark_mode);
  });
});
