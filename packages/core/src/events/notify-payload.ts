import { CHANGE_OPERATIONS, type ChangeEvent, type ChangeOperation } from "./change-event.js";
import { openEnvelope } from "./signed-payload.js";

/**
 * The NOTIFY payload the triggers send, version 1:
 *
 *   {"v":1,"s":"<schema>","t":"<table>","op":"insert"|"update"|"delete"|"truncate"}
 *
 * Deterministic for a given table and operation, so PostgreSQL folds the notifications of many
 * statements in one transaction into one. The triggers also send `"ts"`: the writing transaction's
 * start time in ms since epoch (constant within a transaction, so folding still works); event
 * latency is therefore measured from the start of the writing transaction. `ts` is optional here,
 * and a `ts` outside [arrival - 1 h, arrival + 1 min] is ignored: anyone who can connect can send
 * a payload, and one `ts: 0` would otherwise set the latency stats to decades.
 *
 * Installs from revision 2 on sign the payload (see `signed-payload.ts`): the envelope is removed
 * here without checking it; the NOTIFY source checks it when it has the secret.
 */
export const NOTIFY_PAYLOAD_VERSION = 1;

/** Plausible range of a sender's timestamp around the arrival time, for latency stats. */
export const SENT_AT_MAX_AGE_MS = 60 * 60_000;
export const SENT_AT_MAX_AHEAD_MS = 60_000;

export type PayloadProblem = "not-json" | "not-an-object" | "unknown-version" | "bad-field";

export type ParsedPayload =
  | { readonly ok: true; readonly event: ChangeEvent }
  | { readonly ok: false; readonly problem: PayloadProblem; readonly detail: string };

const OPERATIONS = new Set<string>(CHANGE_OPERATIONS);

/** Validate a payload from the wire. Never throws: bad input is a value the caller counts and logs. */
export function parseNotifyPayload(raw: string, receivedAt = Date.now()): ParsedPayload {
  const envelope = openEnvelope(raw);
  if (envelope.signed === "broken")
    return { ok: false, problem: "not-json", detail: "malformed signature envelope" };
  const payload = envelope.payload;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return { ok: false, problem: "not-json", detail: "payload is not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, problem: "not-an-object", detail: "payload is not a JSON object" };
  }
  const fields = value as Record<string, unknown>;
  if (fields.v !== NOTIFY_PAYLOAD_VERSION) {
    return {
      ok: false,
      problem: "unknown-version",
      detail: `payload version ${JSON.stringify(fields.v)} is not ${NOTIFY_PAYLOAD_VERSION}`,
    };
  }
  const { s, t, op, ts } = fields;
  if (typeof s !== "string" || s.length === 0)
    return { ok: false, problem: "bad-field", detail: "field s (schema) must be a non-empty string" };
  if (typeof t !== "string" || t.length === 0)
    return { ok: false, problem: "bad-field", detail: "field t (table) must be a non-empty string" };
  if (typeof op !== "string" || !OPERATIONS.has(op))
    return {
      ok: false,
      problem: "bad-field",
      detail: `field op must be one of ${CHANGE_OPERATIONS.join(", ")}`,
    };
  if (ts !== undefined && (typeof ts !== "number" || !Number.isFinite(ts)))
    return { ok: false, problem: "bad-field", detail: "field ts must be a number" };
  const plausible =
    ts !== undefined && ts >= receivedAt - SENT_AT_MAX_AGE_MS && ts <= receivedAt + SENT_AT_MAX_AHEAD_MS;
  const event: ChangeEvent = !plausible
    ? { schema: s, table: t, operation: op as ChangeOperation, receivedAt }
    : { schema: s, table: t, operation: op as ChangeOperation, sentAt: ts as number, receivedAt };
  return { ok: true, event };
}

/** Build the payload a trigger would send (used by tests and by `triggerSql` documentation). */
export function formatNotifyPayload(schema: string, table: string, operation: ChangeOperation): string {
  return JSON.stringify({ v: NOTIFY_PAYLOAD_VERSION, s: schema, t: table, op: operation });
}
