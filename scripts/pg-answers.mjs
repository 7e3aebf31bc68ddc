// Exit 0 when a PostgreSQL answers at the given URL within a few seconds.
import { createRequire } from "node:module";

const require = createRequire(new URL("../internal/testdb/package.json", import.meta.url));
const pg = require("pg");
const client = new pg.Client({ connectionString: process.argv[2], connectionTimeoutMillis: 3000 });
try {
  await client.connect();
  await client.query("SELECT 1");
  await client.end();
  process.exit(0);
} catch {
  process.exit(1);
}
