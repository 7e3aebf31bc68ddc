import type { TestProject } from "vitest/node";
import { startDatabaseServer } from "./database-server.js";

/**
 * Vitest global setup: one PostgreSQL server for the whole run. Each test file then creates its
 * own database on it (see useTestDatabase), so files run in parallel without seeing each other.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startDatabaseServer();
  project.provide("pgcwAdminUrl", server.adminUrl);
  project.provide("pgcwServerKind", server.kind);
  const version = await server.version();
  process.stdout.write(`[pgcw] test server: ${server.kind}, ${version}\n`);
  return () => server.stop();
}
