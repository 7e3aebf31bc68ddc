#!/usr/bin/env node
// Runs a TypeScript entry point with workspace packages resolved to their sources (the
// "@pgcachewatch/source" export condition), so `pnpm demo` / `pnpm bench` need no build step.
// Usage: node scripts/run-ts.mjs <file.ts> [args...]
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write("usage: node scripts/run-ts.mjs <file.ts> [args...]\n");
  process.exit(2);
}

const require = createRequire(import.meta.url);
// tsx's loader, resolved from the workspace root so the command works from any directory.
const tsxLoader = pathToFileURL(require.resolve("tsx")).href;

const child = spawn(
  process.execPath,
  ["--conditions=@pgcachewatch/source", "--import", tsxLoader, entry, ...args],
  { stdio: "inherit" },
);

// Ctrl-C in a terminal reaches the whole process group, the child included: wait for it to stop
// what it started. A signal sent to this process alone (e.g. `kill`) is passed on.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}

child.on("exit", (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
