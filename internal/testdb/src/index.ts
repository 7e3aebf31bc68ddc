export { type DatabaseServer, type ServerKind, startDatabaseServer } from "./database-server.js";
export {
  type EmbeddedServer,
  type EmbeddedServerOptions,
  findFreePort,
  removeLeftoverDataDirs,
  startEmbeddedServer,
} from "./embedded-server.js";
export { deferred, nextEvent, until } from "./events.js";
export { quoteIdent } from "./identifiers.js";
export { redisForTests, startPrivateRedis, type TestRedis } from "./redis-server.js";
export { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";
export { createTestDatabase, openExternalWriter, type TestDatabase } from "./test-database.js";
