import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      adapter: "src/adapter.ts",
      triggers: "src/triggers/index.ts",
      wal: "src/sources/wal/index.ts",
      compat: "src/compat.ts",
      observability: "src/observability/index.ts",
    },
    format: ["esm", "cjs"],
    // Shared code (errors, the engine) in shared chunks for CJS too: one PgCacheWatchError class
    // for both entry points, so `instanceof` holds across them.
    splitting: true,
    dts: true,
    sourcemap: true,
    // Both builds write to dist at once: this one must not wipe the CLI's output.
    clean: ["!cli.js", "!cli.js.map"],
    target: "node20",
  },
  {
    entry: { cli: "src/cli/main.ts" },
    format: ["esm"],
    sourcemap: true,
    clean: false,
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
