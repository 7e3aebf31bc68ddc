export { type AppOptions, buildApp, type User } from "./app.js";
export { setupDatabase } from "./setup.js";
