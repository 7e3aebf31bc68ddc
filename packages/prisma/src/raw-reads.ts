import type { CacheWatch } from "@pgcachewatch/core";

/** The SQL text of a raw query as `_executeRequest` receives it: Prisma's `Sql`, or `[text, ...values]`. */
export function rawText(args: unknown): string | undefined {
  if (Array.isArray(args)) return typeof args[0] === "string" ? args[0] : undefined;
  if (typeof args !== "object" || args === null) return undefined;
  const text = (args as { text?: unknown; sql?: unknown }).text ?? (args as { sql?: unknown }).sql;
  return typeof text === "string" ? text : undefined;
}

const KNOWN_BOUND = 5_000;

/**
 * Whether a raw statement may be shared between callers at all: only a plain read whose result the
 * engine could store. Concurrent callers of one key share one run, so `INSERT ... RETURNING`,
 * `SELECT nextval(...)` or `SELECT ... FOR UPDATE` through `$queryRaw` must each run on their own.
 * An opaque statement is shared only when the caller named its tables, a session-dependent one only
 * with a scope ($queryRawCached, or the extension's `scope`). Texts
 * found shareable are remembered (bounded), so a hit does no analysis.
 */
export class RawReadRouter {
  readonly #watch: CacheWatch;
  readonly #searchPath: string | undefined;
  readonly #known = new Set<string>();

  constructor(watch: CacheWatch, searchPath: string | undefined) {
    this.#watch = watch;
    this.#searchPath = searchPath;
  }

  shareable(text: string, tablesNamed: boolean, scoped: boolean): boolean | Promise<boolean> {
    const memo = `${tablesNamed ? "t" : "-"}${scoped ? "s" : "-"}${text}`;
    if (this.#known.has(memo)) return true;
    const decide = (analysis: {
      writes: readonly unknown[];
      transaction: unknown;
      kind?: string;
      opaque: string | undefined;
      sessionDependent: string | undefined;
    }) => {
      const shareable =
        analysis.writes.length === 0 &&
        analysis.transaction === undefined &&
        (analysis.kind === undefined || analysis.kind === "select") &&
        (analysis.sessionDependent === undefined || scoped) &&
        (analysis.opaque === undefined || tablesNamed);
      if (shareable) {
        this.#known.add(memo);
        if (this.#known.size > KNOWN_BOUND) this.#known.delete(this.#known.values().next().value as string);
      }
      return shareable;
    };
    try {
      const analysis = this.#watch.analyzer.analyze(
        text,
        this.#searchPath === undefined ? undefined : { searchPath: this.#searchPath },
      );
      return analysis instanceof Promise ? analysis.then(decide, () => false) : decide(analysis);
    } catch {
      return false;
    }
  }
}
