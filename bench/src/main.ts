import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { adapterHitCosts } from "./adapters/index.js";
import { parseArgs } from "./args.js";
import { openEnvironment } from "./environment.js";
import { now, timerOverhead } from "./measure.js";
import { machineTable, markdownReport, targetsTable } from "./report/markdown.js";
import { svgReport } from "./report/svg.js";
import { textSection, textTable } from "./report/text.js";
import { type SectionResult, section } from "./result.js";
import { runBentocache } from "./scenarios/bentocache.js";
import type { ScenarioContext } from "./scenarios/context.js";
import { runForeignKey } from "./scenarios/foreign-key.js";
import { runFreshness } from "./scenarios/freshness.js";
import { runHitCost } from "./scenarios/hit-cost.js";
import { runHttp } from "./scenarios/http.js";
import { runInvalidationLatency } from "./scenarios/invalidation-latency.js";
import { runIsolation } from "./scenarios/isolation.js";
import { runMemory } from "./scenarios/memory.js";
import { runSecondTier } from "./scenarios/second-tier.js";
import { runWritePath } from "./scenarios/write-path.js";
import { runWriteSweep } from "./scenarios/write-sweep.js";

const SCENARIOS: { id: string; title: string; run: (context: ScenarioContext) => Promise<SectionResult> }[] =
  [
    { id: "hit", title: "Hit cost", run: runHitCost },
    { id: "isolation", title: "Isolation cost", run: runIsolation },
    { id: "http", title: "HTTP endpoint", run: runHttp },
    { id: "latency", title: "Invalidation latency", run: runInvalidationLatency },
    { id: "write", title: "Write-path cost", run: runWritePath },
    { id: "freshness", title: "Freshness", run: runFreshness },
    { id: "sweep", title: "Write-fraction sweep", run: runWriteSweep },
    { id: "fk", title: "Foreign-key workload", run: runForeignKey },
    { id: "memory", title: "Memory", run: runMemory },
    { id: "tier", title: "Second tier (Redis)", run: runSecondTier },
    { id: "bentocache", title: "Side by side with bentocache", run: runBentocache },
  ];

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const t0 = now();
  const log = (line: string) =>
    process.stderr.write(`[bench ${((now() - t0) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
  log(
    `starting${args.quick ? " (--quick)" : ""}; ${process.env.DATABASE_URL ? "DATABASE_URL" : "embedded PostgreSQL, fsync on"}`,
  );
  const environment = await openEnvironment();
  const sections: SectionResult[] = [];
  let failures = 0;
  try {
    const context: ScenarioContext = {
      url: environment.url,
      quick: args.quick,
      proveChecker: args.proveChecker,
      timerOverhead: timerOverhead(),
      walAvailable: environment.walAvailable,
      adapterHitCosts: () => adapterHitCosts(environment.url, args.quick),
      log,
    };
    for (const scenario of SCENARIOS) {
      if (args.only && !args.only.has(scenario.id)) continue;
      log(`${scenario.title}...`);
      const started = now();
      try {
        const result = await scenario.run(context);
        sections.push(result);
        process.stdout.write(`\n${textSection(result)}\n`);
      } catch (error) {
        // A broken scenario is a broken suite (exit 1); a slow number never is.
        failures++;
        const failed = section(scenario.id, scenario.title, "The scenario failed before it finished.");
        failed.notes.push(
          `FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        sections.push(failed);
        process.stderr.write(
          `${scenario.title} failed: ${error instanceof Error ? error.stack : String(error)}\n`,
        );
      }
      log(`${scenario.title} done in ${((now() - started) / 1000).toFixed(1)}s`);
    }
  } finally {
    await environment.close();
  }
  const seconds = (now() - t0) / 1000;
  const base = args.name ?? (args.quick ? "quick" : "latest");
  const meta = {
    environment,
    quick: args.quick,
    startedAt,
    seconds,
    loadAtEnd: loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    chartFile: `${base}.svg`,
  };
  process.stdout.write(
    `\n== Summary\n\n${textTable(machineTable(meta))}\n\n${textTable(targetsTable(sections.flatMap((s) => s.targets)))}\n`,
  );
  if (args.write) {
    const outDir = resolve(args.outDir ?? join(dirname(fileURLToPath(import.meta.url)), "..", "results"));
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, `${base}.md`), markdownReport(meta, sections));
    const s = environment.settings;
    writeFileSync(
      join(outDir, `${base}.svg`),
      svgReport(
        `PGCacheWatch benchmark${args.quick ? " (--quick)" : ""}`,
        `${environment.machine.cpuModel}, ${environment.machine.cores} cores, Node ${environment.machine.node}, ` +
          `PostgreSQL ${s.server_version} (fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit}), ${startedAt.toISOString()}`,
        sections.flatMap((r) => r.charts),
      ),
    );
    process.stdout.write(`\nwrote ${join(outDir, `${base}.md`)} and ${base}.svg\n`);
  }
  log(`finished in ${seconds.toFixed(0)}s${failures ? `, ${failures} scenario(s) FAILED` : ""}`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
