/** PostgreSQL timestamps on the wire are microseconds since 2000-01-01 UTC. */
const PG_EPOCH_MS = 946_684_800_000;

export function pgMicrosToEpochMs(micros: bigint): number {
  return Number(micros / 1000n) + PG_EPOCH_MS;
}

export function epochMsToPgMicros(ms: number): bigint {
  return BigInt(Math.round(ms - PG_EPOCH_MS)) * 1000n;
}
