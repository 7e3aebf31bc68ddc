/**
 * Date, Map and Set keep their contents in internal slots that Object.freeze does not reach, so a
 * frozen result holds read-only subclasses instead: their mutating methods throw a TypeError, as
 * an assignment to a frozen object does in strict mode. They stay `instanceof Date` / `Map` / `Set`
 * and behave the same for every read (getTime, toISOString, JSON, iteration); their `constructor`
 * is the base class, so code (and test matchers) that compare constructors see a Date, Map or Set.
 * Calling
 * `Date.prototype.setTime.call(date, ...)` (the base class's method directly) still changes one;
 * that deliberate bypass is the one thing they do not stop.
 */

function refuse(what: string): () => never {
  return () => {
    const error = new TypeError(
      `Cannot ${what}: cached results are frozen (isolation "freeze"); copy the value to change it`,
    );
    (error as TypeError & { code: string }).code = "FROZEN_VALUE";
    throw error;
  };
}

const DATE_SETTERS = [
  "setDate",
  "setFullYear",
  "setHours",
  "setMilliseconds",
  "setMinutes",
  "setMonth",
  "setSeconds",
  "setTime",
  "setUTCDate",
  "setUTCFullYear",
  "setUTCHours",
  "setUTCMilliseconds",
  "setUTCMinutes",
  "setUTCMonth",
  "setUTCSeconds",
  "setYear",
] as const;

/** A Date whose setters throw. */
export class FrozenDate extends Date {}
for (const name of DATE_SETTERS) {
  if (name in Date.prototype) {
    Object.defineProperty(FrozenDate.prototype, name, { value: refuse(`call ${name} on a frozen Date`) });
  }
}
Object.defineProperty(FrozenDate.prototype, "constructor", { value: Date });
Object.freeze(FrozenDate.prototype);

/** A Map whose set/delete/clear throw. Built empty, then filled through Map.prototype.set. */
export class FrozenMap<K, V> extends Map<K, V> {}
for (const name of ["set", "delete", "clear"] as const) {
  Object.defineProperty(FrozenMap.prototype, name, { value: refuse(`call ${name} on a frozen Map`) });
}
Object.defineProperty(FrozenMap.prototype, "constructor", { value: Map });
Object.freeze(FrozenMap.prototype);

/** A Set whose add/delete/clear throw. */
export class FrozenSet<T> extends Set<T> {}
for (const name of ["add", "delete", "clear"] as const) {
  Object.defineProperty(FrozenSet.prototype, name, { value: refuse(`call ${name} on a frozen Set`) });
}
Object.defineProperty(FrozenSet.prototype, "constructor", { value: Set });
Object.freeze(FrozenSet.prototype);

export const mapSet = Map.prototype.set;
export const setAdd = Set.prototype.add;

export function frozenDate(time: number): Date {
  return Object.freeze(new FrozenDate(time));
}
