import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, pgTable, pgView, serial, text } from "drizzle-orm/pg-core";
import { expect, test } from "vitest";

// Views are usually declared in a schema module that may load before this package. Their queries are
// then rendered without the join records this package keeps; derivation must stay correct anyway.
const owners = pgTable("owners", { id: serial("id").primaryKey(), name: text("name").notNull() });
const pets = pgTable("pets", { id: serial("id").primaryKey(), ownerId: integer("owner_id").notNull() });

const petOwners = pgView("pet_owners").as((qb) =>
  qb.select({ id: owners.id, name: owners.name }).from(owners).innerJoin(pets, eq(pets.ownerId, owners.id)),
);
const everyPairing = pgView("every_pairing").as((qb) =>
  qb.select({ id: owners.id }).from(owners).innerJoin(pets, sql`true`),
);

test("a view declared before the package loaded: joined tables found through their columns", async () => {
  const { deriveTables } = await import("../src/index.js");
  const db = drizzle.mock();
  const result = deriveTables(db.select().from(petOwners));
  expect(result).toMatchObject({ known: true });
  expect(result.known && result.tables.map((t) => t.table).sort()).toEqual(["owners", "pets"]);
});

test("a view declared before the package loaded whose joined table has no column in it: not cached", async () => {
  const { deriveTables } = await import("../src/index.js");
  const db = drizzle.mock();
  expect(deriveTables(db.select().from(everyPairing))).toMatchObject({
    known: false,
    reason: "relation pets appears only as SQL text",
  });
});
