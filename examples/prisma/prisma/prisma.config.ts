import { defineConfig } from "prisma/config";

// `prisma generate` needs no database; the URL only matters to commands this example does not run.
export default defineConfig({
  schema: "schema.prisma",
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost/unused" },
});
