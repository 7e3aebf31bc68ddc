import type pg from "pg";

/** Rows shaped like an app's: numeric (string), timestamptz (Date), jsonb, text[]. */
export async function createItems(client: pg.ClientBase, rows = 10_000): Promise<void> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS items (
      id integer PRIMARY KEY,
      category integer NOT NULL,
      name text NOT NULL,
      price numeric(10, 2) NOT NULL,
      created_at timestamptz NOT NULL,
      tags text[] NOT NULL,
      attributes jsonb NOT NULL
    )`);
  const { rows: existing } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM items");
  if (existing[0]?.n === rows) return;
  await client.query("TRUNCATE items");
  await client.query(
    `INSERT INTO items
     SELECT g, g % 1000, 'item ' || g, (g % 997) * 1.25, now() - g * interval '1 minute',
            ARRAY['tag' || (g % 7), 'tag' || (g % 11)],
            jsonb_build_object('color', 'c' || (g % 13), 'size', g % 5, 'stock', g % 100)
     FROM generate_series(1, $1) AS g`,
    [rows],
  );
  await client.query("CREATE INDEX IF NOT EXISTS items_category ON items (category, id)");
  await client.query("ANALYZE items");
}

/** The query every hit-cost variant runs: ten rows of one category. */
export const ITEMS_BY_CATEGORY =
  "SELECT id, category, name, price, created_at, tags, attributes FROM items WHERE category = $1 ORDER BY id LIMIT 10";
