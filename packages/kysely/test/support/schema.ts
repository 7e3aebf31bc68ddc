import { installTriggers } from "@pgcachewatch/core/triggers";
import type { ColumnType, Generated } from "kysely";
import type pg from "pg";

export interface Database {
  users: {
    id: number;
    name: string;
    profile: ColumnType<unknown, string, string> | null;
    note: string | null;
  };
  posts: {
    id: number;
    user_id: number;
    title: string;
    created_at: ColumnType<Date, Date | string, Date | string>;
  };
  admins: { id: number; name: string };
  archive: { id: Generated<number>; title: string };
  "app.accounts": { id: number; owner: string };
  /** The same table, for `db.withSchema("app")`. */
  accounts: { id: number; owner: string };
  user_settings: { user_id: number; dark_mode: boolean };
}

/**
 * Tables of the test database, with the change triggers installed on all but `user_settings`: writes to it are seen only through the adapter (read-your-writes, rule 4).
 */
export async function createSchema(client: pg.Client): Promise<void> {
  await client.query(`
    CREATE SCHEMA app;
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, profile jsonb, note text);
    CREATE TABLE posts (id int PRIMARY KEY, user_id int NOT NULL, title text NOT NULL, created_at timestamptz NOT NULL DEFAULT '2024-01-02T03:04:05Z');
    CREATE TABLE admins (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE archive (id serial PRIMARY KEY, title text NOT NULL);
    CREATE TABLE app.accounts (id int PRIMARY KEY, owner text NOT NULL);
    CREATE TABLE user_settings (user_id int PRIMARY KEY, dark_mode boolean NOT NULL);
    INSERT INTO users VALUES (1, 'ada', '{"langs":["en"],"since":1843}', '{"tags":["math"]}'), (2, 'grace', NULL, NULL);
    INSERT INTO posts VALUES (1, 1, 'notes on the engine'), (2, 2, 'compilers');
    INSERT INTO admins VALUES (1, 'root');
    INSERT INTO app.accounts VALUES (1, 'ada');
    INSERT INTO user_settings VALUES (1, true), (2, false);
    -- A function whose reads the SQL that calls it cannot show.
    CREATE FUNCTION admin_names() RETURNS SETOF text LANGUAGE sql STABLE AS 'SELECT name FROM admins';
  `);
  await installTriggers(client, { tables: ["users", "posts", "admins", "archive", "app.accounts"] });
}
