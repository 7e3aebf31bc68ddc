import type { AnalyzeContext, StatementDependencies } from "./dependencies.js";
import { LruMap } from "./lru-map.js";
import type { StatementFacts } from "./statement-facts.js";

/** A text as the parser read it: the facts of each statement, or why it cannot be analysed ("parse error: ..."). */
export type ParsedText =
  | { readonly ok: true; readonly statements: readonly StatementFacts[] }
  | { readonly ok: false; readonly message: string };

/** How many connection contexts (search_path, role) one text keeps results for. */
const CONTEXTS_PER_TEXT = 16;

interface TextEntry {
  readonly parsed: ParsedText;
  /** The results below belong to this epoch; an older one means they were dropped. */
  epoch: number;
  plain: StatementDependencies | undefined;
  byContext: Map<string, StatementDependencies> | undefined;
}

/** The memo key of a context, or undefined for "the catalog connection's defaults". */
export function contextKey(context: AnalyzeContext | undefined): string | undefined {
  if (context === undefined || (context.searchPath === undefined && context.user === undefined))
    return undefined;
  return `${context.searchPath ?? ""}\u0000${context.user ?? ""}`;
}

/**
 * Parsed texts and their results, bounded by the number of texts. Keyed by the text itself (V8
 * caches a string's hash, so a hit on a long query text is one lookup), then by context.
 * Dropping results is O(1): a new epoch makes every stored result stale, parsed texts stay.
 */
export class AnalysisMemo {
  private readonly texts: LruMap<string, TextEntry>;
  private epoch = 0;

  constructor(capacity: number) {
    this.texts = new LruMap(capacity);
  }

  result(sql: string, context: string | undefined): StatementDependencies | undefined {
    const entry = this.texts.get(sql);
    if (entry === undefined || entry.epoch !== this.epoch) return undefined;
    return context === undefined ? entry.plain : entry.byContext?.get(context);
  }

  parsed(sql: string): ParsedText | undefined {
    return this.texts.get(sql)?.parsed;
  }

  storeParsed(sql: string, parsed: ParsedText): void {
    this.texts.set(sql, { parsed, epoch: this.epoch, plain: undefined, byContext: undefined });
  }

  storeResult(
    sql: string,
    parsed: ParsedText,
    context: string | undefined,
    result: StatementDependencies,
  ): void {
    let entry = this.texts.get(sql);
    if (entry === undefined) {
      entry = { parsed, epoch: this.epoch, plain: undefined, byContext: undefined };
      this.texts.set(sql, entry);
    } else if (entry.epoch !== this.epoch) {
      entry.epoch = this.epoch;
      entry.plain = undefined;
      entry.byContext = undefined;
    }
    if (context === undefined) {
      entry.plain = result;
      return;
    }
    entry.byContext ??= new Map();
    if (entry.byContext.size >= CONTEXTS_PER_TEXT && !entry.byContext.has(context)) {
      const oldest = entry.byContext.keys().next();
      if (!oldest.done) entry.byContext.delete(oldest.value);
    }
    entry.byContext.set(context, result);
  }

  /** Forget every result (the catalog changed); parsed texts are kept. */
  dropResults(): void {
    this.epoch++;
  }
}
