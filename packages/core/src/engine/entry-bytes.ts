import { arrayBytes, CONS_STRING_BYTES, stringBytes } from "../store/heap-size.js";

/** A StoreEntry: a 3-word header, 6 fields, and expiresAt boxed as a heap number. */
const ENTRY_RECORD_BYTES = 88;

/** A shared (frozen) entry's settled promise: a JSPromise with its two embedder fields. */
export const SETTLED_PROMISE_BYTES = 56;

/**
 * What an entry holds besides its value: the entry record (6 fields, its expiry a boxed number),
 * its key, its array of tags and the tags. Keys and tags are built by concatenation, so each may be
 * a cons string over its flat copy.
 */
export function entryRecordBytes(key: string, tags: readonly string[]): number {
  let bytes = ENTRY_RECORD_BYTES + CONS_STRING_BYTES + stringBytes(key) + arrayBytes(tags.length);
  for (const tag of tags) bytes += CONS_STRING_BYTES + stringBytes(tag);
  return bytes;
}
