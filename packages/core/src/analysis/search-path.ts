/** An entry of a search_path setting, as PostgreSQL's SplitIdentifierString reads it. */
export type SearchPathEntry = string;

/** The placeholder for the current role's schema. */
export const USER_SCHEMA = "$user";

/**
 * Split a raw search_path setting (`"$user", public`, `"My Schema",other`) into schema names:
 * unquoted names are lower-cased (ASCII, as PostgreSQL does), quoted ones kept with `""` unescaped.
 */
export function parseSearchPath(raw: string): SearchPathEntry[] {
  const entries: string[] = [];
  let i = 0;
  const n = raw.length;
  while (i < n) {
    while (i < n && /\s/.test(raw[i]!)) i++;
    if (i >= n) break;
    let name = "";
    if (raw[i] === '"') {
      i++;
      while (i < n) {
        if (raw[i] === '"') {
          if (raw[i + 1] === '"') {
            name += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        name += raw[i];
        i++;
      }
    } else {
      while (i < n && raw[i] !== "," && !/\s/.test(raw[i]!)) {
        name += raw[i];
        i++;
      }
      name = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
    }
    while (i < n && raw[i] !== ",") i++;
    i++; // the comma
    if (name.length > 0) entries.push(name);
  }
  return entries;
}
