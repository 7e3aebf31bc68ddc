import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Signed notifications. Any role that can connect may `NOTIFY pgcachewatch, '…'`, so the trigger
 * function (SECURITY DEFINER, owned by the installing role) wraps each payload in an envelope
 * signed with a per-install secret that only that role can read (`pgcachewatch.event_secret`):
 *
 *   s1:<xid>:<hmac>:<payload>
 *
 * `<xid>` is the writing transaction's id (decimal, `pg_current_xact_id()`), `<hmac>` is
 * HMAC-SHA256 in lowercase hex over `<xid>:<payload>` (UTF-8), keyed with the secret's UTF-8
 * bytes, and `<payload>` is the payload exactly as an unsigned trigger would send it (any version).
 * The envelope is constant within a transaction, so PostgreSQL still folds duplicate
 * notifications; the xid makes two transactions' envelopes differ, so a captured envelope sent
 * again (a replay) can be recognised.
 */
export const SIGNED_PREFIX = "s1:";

/** HMAC-SHA256 in hex: 64 characters. */
const SIGNATURE_HEX_LENGTH = 64;

export type Envelope =
  | { readonly signed: false; readonly payload: string }
  | {
      readonly signed: true;
      readonly xid: string;
      readonly signature: string;
      readonly payload: string;
    };

/** Split an envelope, or report the text as unsigned (it is then the payload itself). Never throws. */
export function openEnvelope(raw: string): Envelope | { readonly signed: "broken" } {
  if (!raw.startsWith(SIGNED_PREFIX)) return { signed: false, payload: raw };
  const xidEnd = raw.indexOf(":", SIGNED_PREFIX.length);
  if (xidEnd === -1) return { signed: "broken" };
  const xid = raw.slice(SIGNED_PREFIX.length, xidEnd);
  const signatureEnd = xidEnd + 1 + SIGNATURE_HEX_LENGTH;
  if (!/^\d{1,20}$/.test(xid) || raw[signatureEnd] !== ":") return { signed: "broken" };
  const signature = raw.slice(xidEnd + 1, signatureEnd);
  if (!/^[0-9a-f]+$/.test(signature)) return { signed: "broken" };
  return { signed: true, xid, signature, payload: raw.slice(signatureEnd + 1) };
}

/** The signature the trigger computes for `payload` in transaction `xid`. */
export function signPayload(secret: string, xid: string, payload: string): string {
  return createHmac("sha256", secret).update(`${xid}:${payload}`, "utf8").digest("hex");
}

/** What `pgcachewatch.probe_signature(id)` returns when the install's secret is `secret`. */
export function signProbe(secret: string, id: string): string {
  return createHmac("sha256", secret).update(`probe:${id}`, "utf8").digest("hex");
}

/** Wrap a payload in a signed envelope (tests, tools). */
export function sealPayload(secret: string, xid: string, payload: string): string {
  return `${SIGNED_PREFIX}${xid}:${signPayload(secret, xid, payload)}:${payload}`;
}

export type Verdict =
  | { readonly ok: true; readonly payload: string; readonly id: string }
  | { readonly ok: false; readonly detail: string };

/** Check an envelope against the secret (constant-time comparison). `id` identifies the envelope for replay detection. */
export function verifyEnvelope(secret: string, raw: string): Verdict {
  const envelope = openEnvelope(raw);
  if (envelope.signed === false) return { ok: false, detail: "unsigned notification" };
  if (envelope.signed === "broken") return { ok: false, detail: "malformed signature envelope" };
  const expected = Buffer.from(signPayload(secret, envelope.xid, envelope.payload), "hex");
  const given = Buffer.from(envelope.signature, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, detail: "wrong signature" };
  }
  return { ok: true, payload: envelope.payload, id: envelope.signature };
}

/**
 * Remembers the envelopes seen lately, so that one sent again is dropped. Bounded: an envelope
 * older than the last `capacity` can be replayed once more (it can only invalidate a table that
 * really changed; see the README on what a role with CONNECT can do).
 */
export class ReplayWindow {
  readonly #seen = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = 16_384) {
    this.#capacity = capacity;
  }

  /** True the first time `id` is seen (within the window), false for a repeat. */
  firstSight(id: string): boolean {
    if (this.#seen.has(id)) return false;
    this.#seen.add(id);
    if (this.#seen.size > this.#capacity) {
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    return true;
  }
}
