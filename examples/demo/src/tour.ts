import { performance } from "node:perf_hooks";
import type { CacheWatch, CacheWatchStats, ChangeEvent, InvalidateInfo } from "@pgcachewatch/core";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type pg from "pg";
import { bold, cyan, dim, green, heading, ms, red, times, type Write, yellow } from "./output.js";

/** An example app as its package builds it: a Fastify app and the engine behind its cached reads. */
export interface ExampleApp {
  app: FastifyInstance;
  watch: CacheWatch;
}

/** One stop of the tour: an example app, the request it answers, and a write another service makes. */
export interface TourStep {
  /** Short name for the summary table, e.g. "drizzle". */
  id: string;
  /** What the step shows, e.g. "Drizzle: $cached() on a join". */
  title: string;
  /** Where its code lives. */
  example: string;
  /** Why the step cannot run in this build; the tour says so instead of running it. */
  unavailable?: string;
  /** Work before the app can be built (e.g. generating a client); returns a note for the narration. */
  prepare?(): Promise<string | undefined>;
  /** Build the app on the demo database (not yet listening); `inspector`: mount the inspector page there. */
  start(databaseUrl: string, options: { inspector?: string }): Promise<ExampleApp>;
  /** The request, e.g. "/posts/1". */
  path: string;
  /** A request for other data, sent first so the pool's connection is open when the miss is timed. */
  warmupPath: string;
  /** A short rendering of the response for the narration. */
  show(body: unknown): string;
  /** What the other service runs, in one transaction, as literal SQL. */
  write: string;
  /**
   * A write by the other service to rows the response does not contain, run before `write`: the
   * change event names its rows, so the cached entry stays (row-level invalidation).
   */
  otherRowWrite?: string;
  /** Whether a response reflects the write. */
  isFresh(body: unknown): boolean;
  /** A step that drives its own processes instead of one app's requests (e.g. several instances). */
  run?(context: StepContext): Promise<StepResult>;
}

export interface StepContext {
  databaseUrl: string;
  /** The other service's connection. */
  writer: pg.Client;
  write: Write;
}

export type ReadKind = "hit" | "miss" | "bypass";

export interface StepResult {
  id: string;
  title: string;
  status: "ok" | "failed" | "unavailable";
  /** Why it failed or is unavailable. */
  reason?: string;
  url?: string;
  missMs?: number;
  hitMs?: number;
  /** Time from the writer sending COMMIT to the cache entry being dropped. */
  invalidatedAfterMs?: number;
  freshMs?: number;
  /** After `otherRowWrite`'s event arrived: what the engine's stats counted for the same request. */
  otherRowRead?: ReadKind;
  stats?: CacheWatchStats;
}

export interface RunningStep {
  result: StepResult;
  /** The app, still listening (closed by the caller). */
  running?: ExampleApp & { url: string; inspectorUrl?: string };
}

const HIT_SAMPLES = 10;
const INVALIDATION_TIMEOUT_MS = 5000;

interface Timed {
  body: unknown;
  status: number;
  kind: ReadKind;
  /** Time in the app: from Fastify receiving the request to the response being sent. */
  serverMs: number;
}

class StepFailure extends Error {}

/** Run one step: boot the app, miss, hit, external write, fresh read. Never throws for a failed step. */
export async function runStep(
  step: TourStep,
  index: number,
  total: number,
  databaseUrl: string,
  writer: pg.Client,
  write: Write,
  inspector?: string,
): Promise<RunningStep> {
  write("");
  write(heading(`${index}/${total} ${step.title}`));
  const base: StepResult = { id: step.id, title: step.title, status: "ok" };
  if (step.unavailable) {
    write(`   ${yellow("not yet available:")} ${step.unavailable}`);
    return { result: { ...base, status: "unavailable", reason: step.unavailable } };
  }
  if (step.run) return { result: await step.run({ databaseUrl, writer, write }) };
  let running: (ExampleApp & { url: string; inspectorUrl?: string }) | undefined;
  try {
    const note = await step.prepare?.();
    if (note) write(dim(`   ${note}`));
    const example = await step.start(databaseUrl, inspector === undefined ? {} : { inspector });
    const timings = timeRequests(example.app);
    const url = await example.app.listen({ host: "127.0.0.1", port: 0 });
    running = { ...example, url, ...(inspector === undefined ? {} : { inspectorUrl: `${url}${inspector}` }) };
    write(dim(`   ${step.example} on ${url}`));
    const get = async (): Promise<Timed> => {
      const before = example.watch.stats();
      const response = await fetch(`${url}${step.path}`);
      const body: unknown = await response.json();
      const after = example.watch.stats();
      const kind: ReadKind =
        after.hits > before.hits ? "hit" : after.misses > before.misses ? "miss" : "bypass";
      return { body, status: response.status, kind, serverMs: timings.last() };
    };

    /** A write to other rows: once its event is in, the same request is read again; the stats say hit or miss. */
    const writeOtherRow = async (sql: string): Promise<ReadKind> => {
      write(`   another service writes a row the response does not contain:`);
      write(`     ${cyan(truncate(`${sql}; COMMIT`, 74))}`);
      const delivered = waitForChange(example.watch);
      await writer.query("BEGIN");
      await writer.query(sql);
      await writer.query("COMMIT");
      const event = await delivered;
      const again = await get();
      const keys = Object.entries(event.columns ?? {})
        .map(([column, values]) => `${column} ${values.join(",")}`)
        .join("; ");
      const named = event.columns === undefined ? "no rows (table-wide)" : keys;
      const outcome =
        again.kind === "hit" ? green("entry kept") : yellow(`entry dropped (cache ${again.kind})`);
      write(
        `   ${label(again.kind === "hit" ? "hit" : "miss")} ${ms(again.serverMs).padStart(9)}   ${outcome}: ` +
          dim(`NOTIFY ${event.operation} on ${event.table} named ${truncate(named, 30)}`),
      );
      if (again.kind !== "hit")
        throw new StepFailure(`a write to another row dropped the entry (${again.kind})`);
      return again.kind;
    };

    // One request for other data first: the miss below is then not also paying for a new connection.
    const warmup = await fetch(`${url}${step.warmupPath}`);
    await warmup.arrayBuffer();
    if (warmup.status !== 200) throw new StepFailure(`GET ${step.warmupPath} answered HTTP ${warmup.status}`);
    const miss = expectRead(await get(), "miss", "the first request");
    write(`   ${bold(`GET ${step.path}`)}  ${truncate(step.show(miss.body), 72 - step.path.length)}`);
    write(`   ${label("miss")} ${ms(miss.serverMs).padStart(9)}   from PostgreSQL`);
    const hits: Timed[] = [];
    for (let i = 0; i < HIT_SAMPLES; i++) hits.push(expectRead(await get(), "hit", "the same request again"));
    const hitMs = median(hits.map((h) => h.serverMs));
    write(
      `   ${label("hit")} ${ms(hitMs).padStart(9)}   ${green(`${times(miss.serverMs, hitMs)} faster`)} ` +
        dim(`(from memory; median of ${HIT_SAMPLES}, timed in the app)`),
    );

    const otherRowRead =
      step.otherRowWrite === undefined ? undefined : await writeOtherRow(step.otherRowWrite);
    write(`   another service, on its own connection:`);
    write(`     ${cyan(truncate(`${step.write}; COMMIT`, 74))}`);
    const dropped = waitForInvalidation(example.watch);
    await writer.query("BEGIN");
    await writer.query(step.write);
    const commitSentAt = performance.now();
    await writer.query("COMMIT");
    const { at, event } = await dropped;
    const invalidatedAfterMs = at - commitSentAt;
    const cause = event ? `NOTIFY ${event.operation} on ${event.table}` : "NOTIFY";
    write(
      `   ${label("drop")} ${ms(invalidatedAfterMs).padStart(9)}   after COMMIT: entry dropped (${cause})`,
    );

    const fresh = await get();
    if (!step.isFresh(fresh.body)) {
      throw new StepFailure(`the request after the write returned stale data: ${step.show(fresh.body)}`);
    }
    expectRead(fresh, "miss", "the request after the write");
    write(
      `   ${label("fresh")} ${ms(fresh.serverMs).padStart(9)}   ${green(truncate(step.show(fresh.body), 60))}`,
    );
    return {
      result: {
        ...base,
        url,
        missMs: miss.serverMs,
        hitMs,
        invalidatedAfterMs,
        freshMs: fresh.serverMs,
        ...(otherRowRead === undefined ? {} : { otherRowRead }),
      },
      running,
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    write(`   ${red("FAILED:")} ${reason}`);
    return { result: { ...base, status: "failed", reason }, ...(running ? { running } : {}) };
  }
}

function label(kind: "miss" | "hit" | "drop" | "fresh"): string {
  const text = kind.padEnd(5);
  return kind === "hit" || kind === "fresh" ? green(text) : kind === "drop" ? yellow(text) : text;
}

function expectRead(read: Timed, kind: ReadKind, what: string): Timed {
  if (read.status !== 200)
    throw new StepFailure(`${what} answered HTTP ${read.status}: ${JSON.stringify(read.body)}`);
  if (read.kind !== kind) throw new StepFailure(`${what} was a cache ${read.kind}, expected a ${kind}`);
  return read;
}

/** Measure each request inside the app, from Fastify receiving it to the response being sent. */
function timeRequests(app: FastifyInstance): { last(): number } {
  const startedAt = new WeakMap<FastifyRequest, number>();
  let last = Number.NaN;
  app.addHook("onRequest", async (request) => {
    startedAt.set(request, performance.now());
  });
  app.addHook("onSend", async (request) => {
    const start = startedAt.get(request);
    if (start !== undefined) last = performance.now() - start;
  });
  return { last: () => last };
}

/** Resolves when the engine drops at least one entry; remembers the change event behind it. */
function waitForInvalidation(watch: CacheWatch): Promise<{ at: number; event: ChangeEvent | undefined }> {
  return new Promise((resolve, reject) => {
    let event: ChangeEvent | undefined;
    const onInvalidate = (info: InvalidateInfo) => {
      // The table-tag invalidation of a change event comes first; a strategy clears right after it.
      event ??= info.event;
      if (info.entries === 0) return;
      const at = performance.now();
      cleanup();
      resolve({ at, event });
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new StepFailure(`no invalidation within ${INVALIDATION_TIMEOUT_MS / 1000} s of the COMMIT`));
    }, INVALIDATION_TIMEOUT_MS);
    const cleanup = () => {
      clearTimeout(timer);
      watch.off("invalidate", onInvalidate);
    };
    watch.on("invalidate", onInvalidate);
  });
}

/** Resolves with the next change event the engine receives. */
function waitForChange(watch: CacheWatch): Promise<ChangeEvent> {
  return new Promise((resolve, reject) => {
    const onChange = (event: ChangeEvent) => {
      cleanup();
      resolve(event);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new StepFailure(`no change event within ${INVALIDATION_TIMEOUT_MS / 1000} s of the COMMIT`));
    }, INVALIDATION_TIMEOUT_MS);
    const cleanup = () => {
      clearTimeout(timer);
      watch.off("change", onChange);
    };
    watch.on("change", onChange);
  });
}

/** Shorten to `max` characters so a line fits the terminal. */
function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
