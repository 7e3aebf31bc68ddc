/**
 * A cache key for a rendered query. The result shape is part of it: Drizzle renders
 * `select({ a: users.id })` and `select({ b: users.id })` as the same SQL and maps the rows afterwards.
 */
export function queryKey(kind: string, shape: string, sql: string, params: readonly unknown[]): string {
  return `drizzle:${kind}\u0000${shape}\u0000${sql}\u0000${JSON.stringify(params, encodeParam)}`;
}

function encodeParam(this: unknown, key: string, value: unknown): unknown {
  // `value` has been through toJSON already (Buffer, Date); read the raw one for bigint and bytes.
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === "bigint") return { $bigint: raw.toString() };
  if (raw instanceof Uint8Array)
    return { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64") };
  if (raw instanceof Date) return { $date: Number.isNaN(raw.getTime()) ? "invalid" : raw.toISOString() };
  return value;
}
