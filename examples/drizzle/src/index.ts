export { type AppOptions, buildApp } from "./app.js";
export { posts, users } from "./schema.js";
export { setupDatabase } from "./setup.js";
