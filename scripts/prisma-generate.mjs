// Generates a package's Prisma client (schema in <root>/prisma) unless the client already matches
// the schema, its config and the installed Prisma version. Shared by every package that reads
// through a generated client; each binds its own directories in a small wrapper.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * @param {{ root: string; outDir: string }} where `root` holds package.json and prisma/; `outDir`
 *   is the generator's output directory as the schema names it.
 * @returns {boolean} true when it generated.
 */
export function ensurePrismaClient({ root, outDir }) {
  // Test files run in parallel processes: one generates, the others wait and find it up to date.
  return withLock(join(dirname(outDir), ".generate.lock"), () => generateUnlessCurrent(root, outDir));
}

function generateUnlessCurrent(root, outDir) {
  const prismaDir = join(root, "prisma");
  const stampFile = join(outDir, ".schema-stamp");
  // Resolve the CLI from the package itself: it is the version the package depends on.
  const require = createRequire(join(root, "package.json"));
  const cli = require.resolve("prisma/build/index.js");
  const version = JSON.parse(readFileSync(require.resolve("prisma/package.json"), "utf8")).version;
  const stamp = createHash("sha256")
    .update(version)
    .update(readFileSync(join(prismaDir, "schema.prisma")))
    .update(readFileSync(join(prismaDir, "prisma.config.ts")))
    .digest("hex");
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return false;
  const result = spawnSync(
    process.execPath,
    [cli, "generate", "--config", join(prismaDir, "prisma.config.ts")],
    {
      cwd: root,
      encoding: "utf8",
      env: {
        ...process.env,
        // `generate` runs no schema engine, but the CLI insists on finding one and cannot download it
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
  return true;
}

function withLock(lock, work) {
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      // A lock older than any generate run was left by a killed process.
      if (Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 60_000) {
        rmSync(lock, { force: true });
      }
      if (Date.now() > deadline) throw new Error(`waited 120 s for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lock, { force: true });
  }
}
