export { type AppOptions, buildApp } from "./app.js";
export { setupDatabase } from "./setup.js";
