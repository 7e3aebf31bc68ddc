/** Engine defaults, in one place so the docs and the code cannot drift apart. */
export const DEFAULTS = {
  channel: "pgcachewatch",
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  ttl: 5 * 60_000,
  stopTimeout: 5000,
} as const;
