// Loads every published package through its own `exports` map, as users will: ESM `import`,
// CJS `require`, and checks that each condition's type declarations exist.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const packages = ["core", "drizzle", "prisma", "kysely", "redis"];
let failures = 0;
for (const dir of packages) {
  const root = resolve("packages", dir);
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const require = createRequire(join(root, "package.json"));
  for (const [subpath, conditions] of Object.entries(manifest.exports)) {
    if (typeof conditions === "string") continue;
    const specifier = subpath === "." ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
    for (const kind of ["import", "require"]) {
      const target = conditions[kind];
      for (const file of [target.types, target.default]) {
        if (!existsSync(join(root, file))) {
          console.error(`✗ ${specifier} (${kind}): missing ${file}`);
          failures++;
        }
      }
    }
    try {
      const esm = await import(pathToFileURL(require.resolve(specifier)).href.replace(/\.cjs$/, ".js"));
      const cjs = require(specifier);
      const esmKeys = Object.keys(esm)
        .filter((k) => k !== "default")
        .sort();
      const cjsKeys = Object.keys(cjs).sort();
      if (JSON.stringify(esmKeys) !== JSON.stringify(cjsKeys)) {
        console.error(`✗ ${specifier}: ESM and CJS export different names`);
        failures++;
      } else {
        console.log(`✓ ${specifier}: ${esmKeys.length} exports (ESM and CJS)`);
      }
    } catch (error) {
      console.error(`✗ ${specifier}: ${error instanceof Error ? error.message : String(error)}`);
      failures++;
    }
  }
}
process.exit(failures === 0 ? 0 : 1);
