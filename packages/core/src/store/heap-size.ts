/**
 * Heap bytes of what the cache keeps, from V8's object layouts on 64-bit Node (8-byte words, no
 * pointer compression), checked against heap snapshots. Where V8's growth policy leaves slack, the
 * figure is the largest it can be, so plain data is counted at or above what it occupies, with one
 * exception: wide objects (see plainObjectBytes).
 *
 * Strings are counted at two bytes per character (V8 keeps ASCII and Latin-1 text at one), and
 * strings V8 shares between values (JSON.parse interns short ones) once per occurrence: text-heavy
 * values are counted high, up to about twice what they take.
 */

/** `{}` filled by keyed stores: a 3-word header and 4 in-object slots. */
const OBJECT_BYTES = 56;
/** A Date: header and 9 cached date fields, plus its time value boxed as a heap number. */
export const DATE_BYTES = 112;
/** A number that is not a small integer is boxed (a heap number) wherever the cache stores it. */
const HEAP_NUMBER_BYTES = 16;
/** A typed array or DataView with its ArrayBuffer object, without the bytes themselves. */
export const VIEW_BYTES = 200;
export const ARRAY_BUFFER_BYTES = 88;
/** A ConsString: what a string built by concatenation may be, a 32-byte node over its flat copy. */
export const CONS_STRING_BYTES = 32;

/**
 * Map and Set are hash tables: per slot of capacity, a Map takes 3 words (key, value, chain) and
 * half a word of bucket; a Set 2 words and a half. The capacity is a power of two, at least 4.
 */
export const MAP_SLOT_BYTES = 28;
export const SET_SLOT_BYTES = 20;
/** The Map or Set object and its table's fixed part. */
const COLLECTION_BYTES = 72;
/** A Set of at most 4 members. */
export const SMALLEST_SET_BYTES = COLLECTION_BYTES + 4 * SET_SLOT_BYTES;

/** Smallest power of two that is at least `n` (n >= 1). */
function powerOfTwoAtLeast(n: number): number {
  return n <= 1 ? 1 : 2 ** (32 - Math.clz32(n - 1));
}

/**
 * A plain object of `count` properties as a copy builds it: 4 in-object slots, then a property
 * array grown 3 slots at a time. Not counted: past 19 properties V8 keeps the copy in this layout
 * only if objects with the same keys in the same order were built before by named stores (as
 * node-postgres builds its rows); otherwise (rows parsed from JSON, or built key by key) the copy
 * becomes a hash table, about 6x larger.
 */
export function plainObjectBytes(count: number): number {
  if (count <= 4) return OBJECT_BYTES;
  return OBJECT_BYTES + 16 + 24 * Math.ceil((count - 4) / 3);
}

/** A null-prototype copy, which V8 keeps in dictionary mode: a hash table of 3 words per slot, at most 2/3 full. */
export function dictionaryObjectBytes(count: number): number {
  return 88 + 24 * Math.max(4, powerOfTwoAtLeast(count + (count >> 1)));
}

/** `new Array(length)`: the array object (4 words) and its elements (2 words + 1 per element). */
export function arrayBytes(length: number): number {
  return length === 0 ? 32 : 48 + 8 * length;
}

/** A Map filled with `size` entries (its keys and values not included). */
export function mapBytes(size: number): number {
  return COLLECTION_BYTES + MAP_SLOT_BYTES * Math.max(4, powerOfTwoAtLeast(size));
}

/** A Set filled with `size` members (the members not included). */
export function setBytes(size: number): number {
  return COLLECTION_BYTES + SET_SLOT_BYTES * Math.max(4, powerOfTwoAtLeast(size));
}

/** A flat string: a 2-word header and its characters, counted as two bytes each, rounded to a word. */
export function stringBytes(value: string): number {
  return (2 * value.length + 23) & ~7;
}

/** What a primitive takes beyond the slot that holds it. */
export function primitiveBytes(value: unknown): number {
  switch (typeof value) {
    case "string":
      return stringBytes(value);
    case "number":
      // A small integer lives in its slot; any other number is boxed.
      return (value | 0) === value ? 0 : HEAP_NUMBER_BYTES;
    case "bigint": {
      const digits = (value < 0n ? -value : value).toString(16).length;
      return 16 + 8 * Math.ceil(digits / 16);
    }
    default:
      // true, false, null, undefined: shared constants.
      return 0;
  }
}
