import { performance } from "node:perf_hooks";
import pg from "pg";
import { type DemoDatabase, openDemoDatabase } from "./database.js";
import { bold, dim, green, heading, ms, red, table, type Write, writeStdout, yellow } from "./output.js";
import { createDemoSchema, DEMO_TABLES } from "./schema.js";
import { STEPS } from "./steps.js";
import { type ExampleApp, runStep, type StepResult, type TourStep } from "./tour.js";

export interface TourOptions {
  /** Server to use; default DATABASE_URL, else an embedded PostgreSQL. */
  databaseUrl?: string | undefined;
  steps?: readonly TourStep[];
  write?: Write;
  /** Mount the inspector page on every app at this path (e.g. "/inspector"). */
  inspector?: string;
}

export interface Tour {
  readonly results: readonly StepResult[];
  /** Every runnable step showed a miss, a hit, an invalidation and a fresh read. */
  readonly ok: boolean;
  /** The apps, still listening. */
  readonly running: readonly (ExampleApp & {
    url: string;
    inspectorUrl?: string;
    stepId: string;
    step: TourStep;
  })[];
  readonly database: DemoDatabase;
  /** Close the apps, drop the demo database, stop the server if the tour started it. Idempotent. */
  close(): Promise<void>;
}

/** Set up a database, run every step and print the summary. The caller closes the returned tour. */
export async function runTour(options: TourOptions = {}): Promise<Tour> {
  const write = options.write ?? writeStdout;
  const steps = options.steps ?? STEPS;
  write(bold("PGCacheWatch demo") + dim(": query results cached in your process, dropped at COMMIT"));
  write("");
  const database = await openDemoDatabase(options.databaseUrl);
  const running: (ExampleApp & { url: string; inspectorUrl?: string; stepId: string; step: TourStep })[] = [];
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await Promise.allSettled(running.map((r) => r.app.close()));
      await database.close();
    })();
    return closing;
  };
  const results: StepResult[] = [];
  try {
    write(`   ${dim("server  ")}  ${database.description}`);
    const schemaStarted = performance.now();
    const rows = await createDemoSchema(database.url);
    write(
      `   ${dim("database")}  ${database.name}: users (${rows.users} rows), posts (${rows.posts}), ` +
        `comments (${rows.comments})`,
    );
    write(
      `   ${dim("triggers")}  installTriggers() on ${DEMO_TABLES.join(", ")} ` +
        dim(`(setup took ${ms(performance.now() - schemaStarted)})`),
    );
    const writer = new pg.Client({ connectionString: database.url, application_name: "another-service" });
    await writer.connect();
    try {
      for (const [i, step] of steps.entries()) {
        const outcome = await runStep(
          step,
          i + 1,
          steps.length,
          database.url,
          writer,
          write,
          options.inspector,
        );
        results.push(outcome.result);
        if (outcome.running) running.push({ ...outcome.running, stepId: step.id, step });
      }
    } finally {
      await writer.end();
    }
    for (const r of running) {
      const result = results.find((x) => x.id === r.stepId);
      if (result) result.stats = r.watch.stats();
    }
    printSummary(results, write);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    results,
    ok: results.every((r) => r.status !== "failed") && results.some((r) => r.status === "ok"),
    running,
    database,
    close,
  };
}

function printSummary(results: readonly StepResult[], write: Write): void {
  write("");
  write(heading("engine stats per app"));
  const rows = results.map((r) => {
    const s = r.stats;
    const status = r.status === "ok" ? green("ok") : r.status === "failed" ? red("FAILED") : yellow("n/a");
    if (!s) return [r.id, "", "", "", "", "", "", "", status];
    return [
      r.id,
      String(s.hits),
      String(s.misses),
      String(s.loads),
      String(s.eventsReceived),
      String(s.entriesInvalidated),
      String(s.bypassed),
      r.invalidatedAfterMs === undefined ? "" : ms(r.invalidatedAfterMs),
      status,
    ];
  });
  for (const line of table(
    ["app", "hits", "misses", "loads", "events", "dropped", "bypass", "COMMIT→drop", "result"],
    rows,
  ))
    write(`   ${line}`);
  write(dim("   loads: queries run for misses; events: NOTIFYs received; dropped: entries"));
  write(dim("   invalidated; bypass: reads that went straight to PostgreSQL"));
  const ok = results.filter((r) => r.status === "ok").length;
  const failed = results.filter((r) => r.status === "failed");
  const missing = results.filter((r) => r.status === "unavailable");
  write("");
  write(`   ${ok} of ${results.length} apps showed a hit and a fresh read after an external write`);
  if (missing.length > 0) write(`   ${yellow("not yet available:")} ${missing.map((r) => r.id).join(", ")}`);
  if (failed.length > 0) write(`   ${red("FAILED:")} ${failed.map((r) => r.id).join(", ")}`);
}
