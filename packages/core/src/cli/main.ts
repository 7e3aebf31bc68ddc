import type { CliIo } from "./cli-io.js";
import { runCli } from "./run-cli.js";

const interrupted = new Promise<void>((resolve) => {
  process.once("SIGINT", () => resolve());
  process.once("SIGTERM", () => resolve());
});

const io: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  interrupted,
};

const code = await runCli(process.argv.slice(2), io);
// Exit now: listeners for signals (and a closed client's timers) must not keep the process up.
process.stdout.write("", () => process.exit(code));
