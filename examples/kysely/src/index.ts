export { type AppOptions, buildApp } from "./app.js";
export type { Database } from "./schema.js";
export { setupDatabase } from "./setup.js";
