import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { bold, dim, ms, red } from "./output.js";
import { runTour, type Tour } from "./run-tour.js";

const { values: flags } = parseArgs({
  options: {
    serve: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(`pnpm demo [--serve]

A narrated tour of the example apps on a throwaway PostgreSQL (embedded, or a new database on the
server in DATABASE_URL, dropped afterwards). --serve keeps the apps running and prints their URLs,
and mounts the inspector page (live charts of each app's cache) at /inspector on each of them.`);
  process.exit(0);
}

/** Where --serve mounts the inspector on each app. */
const INSPECTOR_PATH = "/inspector";

// No step should take more than a few seconds: a tour that hangs is a failure, not a wait.
const WATCHDOG_MS = 120_000;
let tour: Tour | undefined;
let stopping: Promise<void> | undefined;

async function stop(code: number): Promise<never> {
  stopping ??= (async () => {
    const started = performance.now();
    try {
      await tour?.close();
      if (tour)
        console.log(
          dim(`   stopped the apps and removed the demo database (${ms(performance.now() - started)})`),
        );
    } catch (error) {
      console.error(red(`cleanup failed: ${error instanceof Error ? error.stack : String(error)}`));
      code = code || 1;
    }
  })();
  await stopping;
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    console.log("");
    void stop(flags.serve ? 0 : 130);
  });
}

const watchdog = setTimeout(() => {
  console.error(red(`the demo did not finish within ${WATCHDOG_MS / 1000} s: stopping`));
  void stop(1);
}, WATCHDOG_MS);

try {
  tour = await runTour(flags.serve ? { inspector: INSPECTOR_PATH } : {});
} catch (error) {
  console.error(red(`the demo could not run: ${error instanceof Error ? error.stack : String(error)}`));
  await stop(1);
}
clearTimeout(watchdog);

if (!tour!.ok) await stop(1);
if (!flags.serve) await stop(0);

console.log("");
console.log(bold("Serving (Ctrl-C to stop):"));
for (const r of tour!.running) console.log(`   ${r.stepId.padEnd(10)} curl '${r.url}${r.step.path}'`);
console.log(`   change data as another service would:  psql '${tour!.database.url}'`);
console.log(dim("      e.g. UPDATE users SET name = 'Countess of Lovelace' WHERE id = 1;  then curl again"));
console.log(bold("Inspector pages (open in a browser; they update every second):"));
for (const r of tour!.running) if (r.inspectorUrl) console.log(`   ${r.stepId.padEnd(10)} ${r.inspectorUrl}`);
