import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cached } from "../src/index.js";
import { type KyselyFixture, openFixture } from "./support/fixture.js";
import { changeOf, within } from "./support/wait.js";

const database = useTestDatabase("kysely_smoke");
let f: KyselyFixture;
beforeAll(async () => {
  f = await openFixture(database, { max: 2 });
});
afterAll(async () => {
  await f?.close();
});

it("smoke", async () => {
  const q = () => f.db.selectFrom("users").selectAll().orderBy("id").$call(cached()).execute();
  const a = await q();
  console.log(a, f.watch.stats());
  const b = await q();
  console.log(b, f.watch.stats());
  const held = [await f.pool.connect(), await f.pool.connect()];
  const c = await within(q(), "hit");
  console.log(c, f.watch.stats());
  for (const h of held) h.release();
  const changed = changeOf(f.watch, "public.users");
  await f.writer.query("UPDATE users SET name = 'x' WHERE id = 1");
  await changed;
  const d = await q();
  console.log(d, f.watch.stats());
  expect(d[0]?.name).toBe("x");
});
