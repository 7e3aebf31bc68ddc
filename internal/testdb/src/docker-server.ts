/**
 * A PostgreSQL in Docker via testcontainers, for running the suite against other server majors.
 * Loaded only when PGCW_TEST_DB=docker: testcontainers is imported lazily so that nothing else
 * ever pays for (or breaks on) it.
 */
export interface DockerServer {
  readonly adminUrl: string;
  stop(): Promise<void>;
}

export async function startDockerServer(
  image = process.env.PGCW_TEST_PG_IMAGE ?? "postgres:17-alpine",
): Promise<DockerServer> {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const container = await new PostgreSqlContainer(image)
    .withCommand(["postgres", "-c", "wal_level=logical", "-c", "max_connections=300"])
    .start();
  const url = new URL(container.getConnectionUri());
  url.pathname = "/postgres";
  return {
    adminUrl: url.toString(),
    async stop() {
      await container.stop();
    },
  };
}
