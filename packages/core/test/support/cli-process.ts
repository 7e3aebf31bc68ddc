import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const cliSource = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
/** The built binary (present after `pnpm build`). */
export const builtCli = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
export const builtCliExists = existsSync(builtCli);

/** The binary run from source, as a user would run the built one: a separate node process. */
const SOURCE_COMMAND = [process.execPath, "--import", "tsx", "--conditions=@pgcachewatch/source", cliSource];
const BUILT_COMMAND = [process.execPath, builtCli];

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The test runner's environment without any connection settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === "DATABASE_URL" || key.startsWith("PG")) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export interface RunningCli {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolve once stdout (or stderr) matches; reject if the process exits first or the wait times out. */
  waitFor(stream: "stdout" | "stderr", pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<CliResult>;
}

export function startCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; built?: boolean } = {},
): RunningCli {
  const [command, ...prefix] = options.built ? BUILT_COMMAND : SOURCE_COMMAND;
  const child = spawn(command as string, [...prefix, ...args], {
    cwd: repoRoot,
    env: options.env ?? cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    output.stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    output.stderr += chunk;
    for (const listener of listeners) listener();
  });
  let done = false;
  const exited = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => {
      done = true;
      for (const listener of listeners) listener();
      resolve({ code, signal, stdout: output.stdout, stderr: output.stderr });
    });
  });
  return {
    child,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    exited,
    waitFor(stream, pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output[stream].match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          } else if (done) {
            cleanup();
            reject(
              new Error(`exited before ${stream} matched ${pattern}:\n${output.stdout}\n${output.stderr}`),
            );
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`${stream} did not match ${pattern} in time:\n${output.stdout}\n${output.stderr}`),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Run the binary to completion. */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; built?: boolean } = {},
): Promise<CliResult> {
  return startCli(args, options).exited;
}
