import { buildApp } from "./app.js";
import { setupDatabase } from "./setup.js";

// DATABASE_URL points at a scratch database; without it a throwaway embedded PostgreSQL is started
// (imported only then: it installs signal handlers of its own).
const embedded = process.env.DATABASE_URL
  ? undefined
  : await import("@pgcachewatch/testdb").then(({ startEmbeddedServer }) => startEmbeddedServer());
const databaseUrl = process.env.DATABASE_URL ?? embedded!.adminUrl;
await setupDatabase(databaseUrl);

const { app } = buildApp({ databaseUrl, logger: true });
const address = await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 3000) });
console.log(`try: curl ${address}/posts/1/comments`);

let closing = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    if (closing) return;
    closing = true;
    await app.close();
    await embedded?.stop();
  });
}
