import { tableTag } from "../events/table-name.js";
import { isPromise, type StatementAnalysis } from "./statement-analysis.js";

export type Dependencies =
  | { readonly tags: string[]; readonly problem?: undefined }
  | { readonly problem: string };

/**
 * What one load read, gathered from the statements it ran (analysed as they are sent) and the
 * tables its caller declared. Decided at fill time: the result is stored under these tags, or
 * not at all when the statements say it cannot be (a write, a transaction, an opaque statement
 * without declared tables, a session-dependent one without a scope).
 */
export class DependencyCollector {
  readonly #tags: Set<string>;
  readonly #declaredTables: boolean;
  readonly #scoped: boolean;
  readonly #onTags: (tags: readonly string[]) => void;
  #statements = 0;
  #problem: string | undefined;
  #pending: Promise<unknown>[] | undefined;

  /**
   * @param declared tags of the tables (and user tags) the caller named
   * @param declaredTables whether the caller named tables (then opaque statements are covered by them)
   * @param onTags called with tags learned while the load runs (the flight index)
   */
  constructor(
    declared: readonly string[],
    declaredTables: boolean,
    scoped: boolean,
    onTags: (tags: readonly string[]) => void,
  ) {
    this.#tags = new Set(declared);
    this.#declaredTables = declaredTables;
    this.#scoped = scoped;
    this.#onTags = onTags;
  }

  /** A statement the load is about to send; `inTransaction`: its connection is inside a transaction. */
  record(analysis: StatementAnalysis | Promise<StatementAnalysis>, inTransaction: boolean): void {
    this.#statements++;
    if (inTransaction) this.#refuse("a statement ran inside a transaction");
    if (isPromise(analysis)) {
      const pending = analysis.then(
        (done) => this.#take(done),
        (error: unknown) => this.#refuse(`analysis failed: ${(error as Error).message}`),
      );
      this.#pending ??= [];
      this.#pending.push(pending);
      return;
    }
    this.#take(analysis);
  }

  /** The load could not analyse a statement it ran. */
  refuse(problem: string): void {
    this.#statements++;
    this.#refuse(problem);
  }

  /** Tags of a cached entry this load read (a nested cached read that hit). */
  addTags(tags: readonly string[]): void {
    const added: string[] = [];
    for (const tag of tags) {
      if (!this.#tags.has(tag)) {
        this.#tags.add(tag);
        added.push(tag);
      }
    }
    if (added.length > 0) this.#onTags(added);
  }

  /** The dependencies to store under, or why not to store; a Promise while analyses are pending. */
  finish(): Dependencies | Promise<Dependencies> {
    if (this.#pending !== undefined) {
      const pending = this.#pending;
      this.#pending = undefined;
      return Promise.all(pending).then(() => this.finish());
    }
    if (this.#problem !== undefined) return { problem: this.#problem };
    if (this.#statements === 0 && !this.#declaredTables) {
      return { problem: "no statement was reported and no tables were named" };
    }
    return { tags: [...this.#tags] };
  }

  #take(analysis: StatementAnalysis): void {
    if (analysis.transaction !== undefined) this.#refuse("the load controls a transaction");
    if (analysis.writes.length > 0) this.#refuse("the load writes");
    if (analysis.opaque !== undefined && !this.#declaredTables) this.#refuse(analysis.opaque);
    if (analysis.sessionDependent !== undefined && !this.#scoped) {
      this.#refuse(`${analysis.sessionDependent} (give the read a scope to cache it per scope)`);
    }
    if (analysis.reads.length === 0) return;
    this.addTags(analysis.reads.map(tableTag));
  }

  #refuse(problem: string): void {
    this.#problem ??= problem;
  }
}
