import { arrayBytes, CONS_STRING_BYTES, stringBytes } from "../store/heap-size.js";

/** A StoreEntry: a 3-word header, 4 fields, and expiresAt boxed as a heap number. */
const ENTRY_RECORD_BYTES = 72;

/**
 * What an entry holds besides its value: the entry record (4 fields, its expiry a boxed number),
 * its key, its array of tags and the tags. Keys and tags are built by concatenation, so each may be
 * a cons string over its flat copy.
 */
export function entryRecordBytes(key: string, tags: readonly string[]): number {
  let bytes = ENTRY_RECORD_BYTES + CONS_STRING_BYTES + stringBytes(key) + arrayBytes(tags.length);
  for (const tag of tags) bytes += CONS_STRING_BYTES + stringBytes(tag);
  return bytes;
}
