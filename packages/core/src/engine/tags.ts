import { type TableInput, type TableRef, tableTag, toTableRef } from "../events/table-name.js";

/**
 * The tag namespace. Every tag starts with a letter and a NUL, so the kinds never collide:
 * `t` table tags (events/table-name.ts), `u` tags users attach, `s` the engine's own
 * (strategies, cached()).
 */

/** Namespace for tags users attach with `LoadRequest.tags`. */
export function userTag(tag: string): string {
  return `u\u0000${tag}`;
}

/** Table tags and user tags, in one array sized up front (an entry keeps it: no spare slots). */
export function tagsOf(
  tables: readonly TableInput[] | undefined,
  tags: readonly string[] | undefined,
  defaultSchema: string,
): string[] {
  const result = new Array<string>((tables?.length ?? 0) + (tags?.length ?? 0));
  let i = 0;
  if (tables) for (const table of tables) result[i++] = tableTag(toTableRef(table, defaultSchema));
  if (tags) for (const tag of tags) result[i++] = userTag(tag);
  return result;
}

export function refsOf(tables: readonly TableInput[] | undefined, defaultSchema: string): TableRef[] {
  return (tables ?? []).map((table) => toTableRef(table, defaultSchema));
}

/**
 * `schema.table` of the table a dependency tag stands for: a table tag (`t`), or the any-row tag
 * (`a`) every row-level dependency on the table carries (see row-tags.ts); undefined for any other
 * tag. Never reads a row tag's values.
 */
export function tableOfTag(tag: string): string | undefined {
  if (!tag.startsWith("t\u0000") && !tag.startsWith("a\u0000")) return undefined;
  const end = tag.indexOf("\u0000", 2);
  if (end < 0 || tag.indexOf("\u0000", end + 1) >= 0) return undefined;
  return `${tag.slice(2, end)}.${tag.slice(end + 1)}`;
}
