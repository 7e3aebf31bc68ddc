// Generates this example's Prisma client into src/generated (not committed) unless it is up to date.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePrismaClient as ensure } from "../../../scripts/prisma-generate.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export function ensurePrismaClient() {
  return ensure({ root, outDir: join(root, "src", "generated", "client") });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) ensurePrismaClient();
