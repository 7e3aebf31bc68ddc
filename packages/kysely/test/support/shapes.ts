import { type CompiledQuery, type Kysely, type KyselyPlugin, type RawBuilder, sql } from "kysely";
import { jsonArrayFrom, jsonObjectFrom } from "kysely/helpers/postgres";
import type { Database } from "./schema.js";

/** A query of one shape: compiled (its SQL is the truth to compare with), run with a marker plugin. */
export interface ShapeQuery {
  compile(): CompiledQuery;
  run(marker: KyselyPlugin): Promise<unknown[]>;
}

export interface ReadShape {
  name: string;
  build(db: Kysely<Database>): ShapeQuery;
  /** Tables the analyzer finds in its SQL, `schema.table` or bare when unqualified (= public). */
  tables: string[];
  /** Tables the SQL cannot show (a user function's): cached only when named in `cached({ tables })`. */
  declare?: string[];
  /** An external write (raw pg) that changes this query's result, and the table it changes. */
  write: string;
  changed: string;
}

export interface WriteShape {
  name: string;
  build(db: Kysely<Database>): ShapeQuery;
  tables: string[];
  writes: string[];
}

interface Executable {
  withPlugin(plugin: KyselyPlugin): { execute(): Promise<unknown[]> };
  compile(): CompiledQuery;
}

function builder(query: Executable): ShapeQuery {
  return { compile: () => query.compile(), run: (marker) => query.withPlugin(marker).execute() };
}

function raw(db: Kysely<Database>, query: RawBuilder<unknown>): ShapeQuery {
  return {
    compile: () => query.compile(db),
    run: async (marker) => (await query.withPlugin(marker).execute(db)).rows,
  };
}

export const READ_SHAPES: ReadShape[] = [
  {
    name: "select",
    build: (db) => builder(db.selectFrom("users").select(["id", "name"]).orderBy("id")),
    tables: ["users"],
    write: "UPDATE users SET name = name || '.' WHERE id = 1",
    changed: "public.users",
  },
  {
    name: "withSchema",
    build: (db) => builder(db.withSchema("app").selectFrom("accounts").selectAll().orderBy("id")),
    tables: ["app.accounts"],
    write: "UPDATE app.accounts SET owner = owner || '.'",
    changed: "app.accounts",
  },
  {
    name: "schema-qualified name",
    build: (db) => builder(db.selectFrom("app.accounts").select(["id", "owner"]).orderBy("id")),
    tables: ["app.accounts"],
    write: "INSERT INTO app.accounts SELECT coalesce(max(id), 0) + 1, 'new' FROM app.accounts",
    changed: "app.accounts",
  },
  {
    name: "alias (u.name is a qualifier, not a table)",
    build: (db) => builder(db.selectFrom("users as u").select(["u.id", "u.name"]).where("u.id", "=", 2)),
    tables: ["users"],
    write: "UPDATE users SET name = name || '.' WHERE id = 2",
    changed: "public.users",
  },
  {
    name: "join",
    build: (db) =>
      builder(
        db
          .selectFrom("users")
          .innerJoin("posts", "posts.user_id", "users.id")
          .select(["users.name", "posts.title"])
          .orderBy("posts.id"),
      ),
    tables: ["users", "posts"],
    write: "UPDATE posts SET title = title || '.' WHERE id = 1",
    changed: "public.posts",
  },
  {
    name: "subquery in WHERE",
    build: (db) =>
      builder(
        db
          .selectFrom("users")
          .select("name")
          .where("id", "in", db.selectFrom("posts").select("user_id").where("title", "like", "%engine%"))
          .orderBy("name"),
      ),
    tables: ["users", "posts"],
    write: "UPDATE posts SET title = 'the engine, again' WHERE id = 2",
    changed: "public.posts",
  },
  {
    name: "EXISTS subquery in the select list",
    build: (db) =>
      builder(
        db
          .selectFrom("users")
          .select((eb) => [
            "users.name",
            eb
              .exists(eb.selectFrom("admins").select("admins.id").whereRef("admins.name", "=", "users.name"))
              .as("is_admin"),
          ])
          .orderBy("users.id"),
      ),
    tables: ["users", "admins"],
    write:
      "INSERT INTO admins SELECT coalesce(max(id), 0) + 1, (SELECT name FROM users WHERE id = 2) FROM admins",
    changed: "public.admins",
  },
  {
    name: "subquery in FROM",
    build: (db) =>
      builder(
        db
          .selectFrom(db.selectFrom("posts").select(["user_id", "title"]).as("p"))
          .select(["p.user_id", "p.title"])
          .orderBy("p.title"),
      ),
    tables: ["posts"],
    write: "UPDATE posts SET title = title || '.' WHERE id = 2",
    changed: "public.posts",
  },
  {
    name: "union (right side)",
    build: (db) =>
      builder(
        db.selectFrom("users").select("name").union(db.selectFrom("admins").select("name")).orderBy("name"),
      ),
    tables: ["users", "admins"],
    write: "UPDATE admins SET name = name || '.' WHERE id = 1",
    changed: "public.admins",
  },
  {
    name: "CTE (its name is not a table)",
    build: (db) =>
      builder(
        db
          .with("recent", (qb) => qb.selectFrom("posts").select(["user_id", "title"]))
          .selectFrom("recent")
          .innerJoin("users", "users.id", "recent.user_id")
          .select(["users.name", "recent.title"])
          .orderBy("recent.title"),
      ),
    tables: ["posts", "users"],
    write: "UPDATE posts SET title = title || '.' WHERE id = 1",
    changed: "public.posts",
  },
  {
    name: "CTE named like a table (shadows it)",
    build: (db) =>
      builder(
        db
          .with("users", (qb) => qb.selectFrom("posts").select(["id", "title as name"]))
          .selectFrom("users")
          .select(["id", "name"])
          .orderBy("id"),
      ),
    tables: ["posts"],
    write: "UPDATE posts SET title = title || '.' WHERE id = 2",
    changed: "public.posts",
  },
  {
    name: "recursive CTE",
    build: (db) =>
      builder(
        db
          .withRecursive("chain(id, depth)", (qb) =>
            qb
              .selectFrom("users")
              .select(["id", sql<number>`0`.as("depth")])
              .where("id", "=", 1)
              .unionAll((qb2) =>
                qb2
                  .selectFrom("chain")
                  .innerJoin("posts", "posts.user_id", "chain.id")
                  .select(["posts.id", sql<number>`1`.as("depth")])
                  .where("chain.depth", "<", 1),
              ),
          )
          .selectFrom("chain")
          .select(["id", "depth"])
          .orderBy("depth")
          .orderBy("id"),
      ),
    tables: ["users", "posts"],
    write: "INSERT INTO posts (id, user_id, title) SELECT coalesce(max(id), 0) + 1, 1, 'more' FROM posts",
    changed: "public.posts",
  },
  {
    name: "jsonArrayFrom / jsonObjectFrom (kysely/helpers/postgres)",
    build: (db) =>
      builder(
        db
          .selectFrom("users")
          .select((eb) => [
            "users.id",
            jsonArrayFrom(
              eb
                .selectFrom("posts")
                .select(["posts.id", "posts.title"])
                .whereRef("posts.user_id", "=", "users.id")
                .orderBy("posts.id"),
            ).as("posts"),
            jsonObjectFrom(
              eb
                .selectFrom("user_settings")
                .select("dark_mode")
                .whereRef("user_settings.user_id", "=", "users.id"),
            ).as("settings"),
          ])
          .orderBy("users.id"),
      ),
    tables: ["users", "posts", "user_settings"],
    write: "UPDATE posts SET title = title || '.' WHERE user_id = 2",
    changed: "public.posts",
  },
  {
    name: "sql.table() in FROM",
    build: (db) =>
      builder(
        db
          .selectFrom(sql<{ id: number; name: string }>`${sql.table("admins")}`.as("a"))
          .select(["a.id", "a.name"])
          .orderBy("a.id"),
      ),
    tables: ["admins"],
    write: "UPDATE admins SET name = name || '.' WHERE id = 1",
    changed: "public.admins",
  },
  {
    name: "raw sql with text, no tables named",
    build: (db) => raw(db, sql`select id, name from ${sql.table("users")} where id = ${1}`),
    tables: ["users"],
    write: "UPDATE users SET name = name || '.' WHERE id = 1",
    changed: "public.users",
  },
  {
    name: "a user function that reads another table (opaque: cached with the tables named)",
    build: (db) =>
      builder(
        db
          .selectFrom("users")
          .select("name")
          .where(sql<boolean>`name in (select admin_names())`)
          .orderBy("name"),
      ),
    tables: ["users"],
    declare: ["admins"],
    write: "INSERT INTO admins SELECT (SELECT max(id) + 1 FROM admins), name FROM users WHERE id = 1",
    changed: "public.admins",
  },
];

export const WRITE_SHAPES: WriteShape[] = [
  {
    name: "insert ... select",
    build: (db) =>
      builder(
        db
          .insertInto("user_settings")
          .columns(["user_id", "dark_mode"])
          .expression(
            db
              .selectFrom("users")
              .select(["id", sql<boolean>`true`.as("dark_mode")])
              .where("id", "not in", db.selectFrom("user_settings").select("user_id")),
          ),
      ),
    tables: ["user_settings", "users"],
    writes: ["user_settings"],
  },
  {
    name: "update ... from",
    build: (db) =>
      builder(
        db
          .updateTable("user_settings")
          .from("users")
          .set({ dark_mode: sql<boolean>`not user_settings.dark_mode` })
          .whereRef("users.id", "=", "user_settings.user_id"),
      ),
    tables: ["user_settings", "users"],
    writes: ["user_settings"],
  },
  {
    name: "delete ... using",
    build: (db) =>
      builder(
        db
          .deleteFrom("user_settings")
          .using("users")
          .whereRef("users.id", "=", "user_settings.user_id")
          .where("users.name", "=", "nobody"),
      ),
    tables: ["user_settings", "users"],
    writes: ["user_settings"],
  },
  {
    name: "data-modifying CTE under a SELECT",
    build: (db) =>
      builder(
        db
          .with("flipped", (qb) =>
            qb
              .updateTable("user_settings")
              .set({ dark_mode: sql<boolean>`not dark_mode` })
              .returning(["user_id", "dark_mode"]),
          )
          .selectFrom("flipped")
          .selectAll()
          .orderBy("user_id"),
      ),
    tables: ["user_settings"],
    writes: ["user_settings"],
  },
  {
    name: "merge",
    // The merge builder has no withPlugin(): mark the whole Kysely instead.
    build: (db) => {
      const merge = (on: Kysely<Database>) =>
        on
          .mergeInto("user_settings as s")
          .using("users as u", "u.id", "s.user_id")
          .whenMatched()
          .thenUpdateSet({ dark_mode: true })
          .whenNotMatched()
          .thenInsertValues((eb) => ({ user_id: eb.ref("u.id"), dark_mode: false }));
      return {
        compile: () => merge(db).compile(),
        run: async (marker) => [await merge(db.withPlugin(marker)).executeTakeFirstOrThrow()],
      };
    },
    tables: ["user_settings", "users"],
    writes: ["user_settings"],
  },
];
