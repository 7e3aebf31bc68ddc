// Generates the chaos workload's Prisma client into generated/ (gitignored). Runs from the
// typecheck script and before a run that reads through Prisma; skips work when the client matches
// the schema and the installed Prisma version.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const prismaDir = join(here, "..", "prisma");
const outDir = join(here, "..", "generated", "client");
const stampFile = join(outDir, ".schema-stamp");

export function ensurePrismaClient() {
  const require = createRequire(import.meta.url);
  const cli = require.resolve("prisma/build/index.js");
  const prismaVersion = JSON.parse(readFileSync(require.resolve("prisma/package.json"), "utf8")).version;
  const stamp = createHash("sha256")
    .update(prismaVersion)
    .update(readFileSync(join(prismaDir, "schema.prisma")))
    .update(readFileSync(join(prismaDir, "prisma.config.ts")))
    .digest("hex");
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return;
  const result = spawnSync(
    process.execPath,
    [cli, "generate", "--config", join(prismaDir, "prisma.config.ts")],
    {
      cwd: join(here, ".."),
      encoding: "utf8",
      env: {
        ...process.env,
        // `generate` needs no schema engine, but the CLI insists on one and cannot download it
        // offline: any existing executable satisfies the check.
        PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
        PRISMA_HIDE_UPDATE_MESSAGE: "1",
        CHECKPOINT_DISABLE: "1",
      },
    },
  );
  if (result.status !== 0) {
    throw new Error(`prisma generate failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  writeFileSync(stampFile, stamp);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) ensurePrismaClient();
