/** A WAL position ("log sequence number"), 64 bits. PostgreSQL prints it as two hex halves: `16/B374D848`. */
export type Lsn = bigint;

export const ZERO_LSN: Lsn = 0n;

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parse PostgreSQL's text form of an LSN. Returns undefined for anything else. */
export function parseLsn(text: string): Lsn | undefined {
  const match = LSN_PATTERN.exec(text.trim());
  if (!match) return undefined;
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** Format an LSN the way PostgreSQL prints it. */
export function formatLsn(lsn: Lsn): string {
  const high = (lsn >> 32n) & 0xffffffffn;
  const low = lsn & 0xffffffffn;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}
