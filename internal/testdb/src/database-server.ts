import pg from "pg";
import { startDockerServer } from "./docker-server.js";
import { startEmbeddedServer } from "./embedded-server.js";

export type ServerKind = "external" | "embedded" | "docker";

export interface DatabaseServer {
  readonly kind: ServerKind;
  readonly adminUrl: string;
  /** `server_version` as the server reports it. */
  version(): Promise<string>;
  stop(): Promise<void>;
}

/** Resolve the server the way DESIGN.md says: DATABASE_URL, else PGCW_TEST_DB=docker, else embedded. */
export async function startDatabaseServer(env: NodeJS.ProcessEnv = process.env): Promise<DatabaseServer> {
  if (env.PGCW_TEST_DB === "docker") {
    const docker = await startDockerServer();
    return describe("docker", docker.adminUrl, () => docker.stop());
  }
  if (env.DATABASE_URL) {
    return describe("external", env.DATABASE_URL, async () => {});
  }
  const embedded = await startEmbeddedServer();
  const stopOnSignal = (signal: NodeJS.Signals) => {
    void embedded.stop().finally(() => process.kill(process.pid, signal));
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  return describe("embedded", embedded.adminUrl, async () => {
    process.off("SIGINT", stopOnSignal);
    process.off("SIGTERM", stopOnSignal);
    await embedded.stop();
  });
}

function describe(kind: ServerKind, adminUrl: string, stop: () => Promise<void>): DatabaseServer {
  return {
    kind,
    adminUrl,
    async version() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
        return `PostgreSQL ${rows[0]?.v ?? "?"}`;
      } finally {
        await client.end();
      }
    },
    stop,
  };
}
