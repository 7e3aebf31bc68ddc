import { deriveTables, type TableDerivation } from "./table-derivation.js";

const MAX_MEMOIZED = 1_000;

/**
 * Derivations by rendered SQL text. The text fixes which relations a statement reads, so a repeated
 * query skips the walk and a cache hit costs little more than rendering the query. Bounded; one per
 * cache instance.
 */
export class DerivationMemo {
  readonly #byText = new Map<string, TableDerivation>();
  readonly #defaultSchema: string;

  constructor(defaultSchema: string) {
    this.#defaultSchema = defaultSchema;
  }

  derive(sqlText: string, query: unknown): TableDerivation {
    const known = this.#byText.get(sqlText);
    if (known !== undefined) return known;
    const derivation = deriveTables(query, this.#defaultSchema);
    if (this.#byText.size >= MAX_MEMOIZED) {
      // Drop the oldest insertion; a miss only costs one walk.
      const oldest = this.#byText.keys().next();
      if (!oldest.done) this.#byText.delete(oldest.value);
    }
    this.#byText.set(sqlText, derivation);
    return derivation;
  }
}
