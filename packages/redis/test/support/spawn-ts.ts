import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("../../../../", import.meta.url));

/** Run a TypeScript file in its own Node process, workspace packages resolved to their sources. */
export function spawnTs(file: string, env: Record<string, string>): ChildProcess & { output: string } {
  const tsx = pathToFileURL(createRequire(`${root}package.json`).resolve("tsx")).href;
  const child = spawn(process.execPath, ["--conditions=@pgcachewatch/source", "--import", tsx, file], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  }) as ChildProcess & { output: string };
  child.output = "";
  child.stdout?.on("data", (data: Buffer) => {
    child.output += data.toString();
  });
  return child;
}
