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
 *
 * Version 2 (triggers from revision 3) adds the distinct values, as PostgreSQL's text output, of
 * the table's key columns in the rows the statement changed, before and after:
 *
 *   {"v":2,"s":"public","t":"orders","op":"update","ts":...,"k":{"id":["7"],"customer_id":["3","4"]}}
 *
 * A v2 payload without `k`, and every v1 payload, is table-wide. Keyed payloads differ per
 * statement, so PostgreSQL folds only repeats of the same rows.
 */
export const NOTIFY_PAYLOAD_VERSION = 1;
/** The version that carries key values. */
export const NOTIFY_PAYLOAD_KEYED_VERSION = 2;
/** PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more: anything longer was not sent by it. */
export const MAX_PAYLOAD_BYTES = 8000;

/** Plausible range of a sender's timestamp around the arrival time, for latency stats. */
export const SENT_AT_MAX_AGE_MS = 60 * 60_000;
export const SENT_AT_MAX_AHEAD_MS = 60_000;

export type PayloadProblem = "not-json" | "not-an-object" | "unknown-version" | "bad-field" | "oversized";

export type ParsedPayload =
  | { readonly ok: true; readonly event: ChangeEvent }
  | { readonly ok: false; readonly problem: PayloadProblem; readonly detail: string };

const OPERATIONS = new Set<string>(CHANGE_OPERATIONS);

/** Validate a payload from the wire. Never throws: bad input is a value the caller counts and logs. */
export function parseNotifyPayload(raw: string, receivedAt = Date.now()): ParsedPayload {
  // Cheap bound first (UTF-16 length <= UTF-8 length), then the exact one.
  if (raw.length > MAX_PAYLOAD_BYTES || Buffer.byteLength(raw, "utf8") > MAX_PAYLOAD_BYTES)
    return { ok: false, problem: "oversized", detail: `payload longer than ${MAX_PAYLOAD_BYTES} bytes` };
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
  if (fields.v !== NOTIFY_PAYLOAD_VERSION && fields.v !== NOTIFY_PAYLOAD_KEYED_VERSION) {
    return {
      ok: false,
      problem: "unknown-version",
      detail: `payload version ${JSON.stringify(fields.v)} is not ${NOTIFY_PAYLOAD_VERSION} or ${NOTIFY_PAYLOAD_KEYED_VERSION}`,
    };
  }
  const { s, t, op, ts, k } = fields;
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
  let columns: Record<string, readonly string[]> | undefined;
  if (fields.v === NOTIFY_PAYLOAD_KEYED_VERSION && k !== undefined) {
    const parsed = parseKeys(k);
    if (typeof parsed === "string") return { ok: false, problem: "bad-field", detail: parsed };
    columns = parsed;
  } else if (k !== undefined) {
    return { ok: false, problem: "bad-field", detail: "field k belongs to payload version 2" };
  }
  const plausible =
    ts !== undefined && ts >= receivedAt - SENT_AT_MAX_AGE_MS && ts <= receivedAt + SENT_AT_MAX_AHEAD_MS;
  const base = { schema: s, table: t, operation: op as ChangeOperation };
  const timed = plausible ? { ...base, sentAt: ts as number, receivedAt } : { ...base, receivedAt };
  // TRUNCATE is table-wide whatever a payload says.
  const event: ChangeEvent = columns === undefined || op === "truncate" ? timed : { ...timed, columns };
  return { ok: true, event };
}

/** Field `k`: an object of non-empty column names to arrays of strings, or what is wrong with it. */
function parseKeys(k: unknown): Record<string, readonly string[]> | string {
  if (typeof k !== "object" || k === null || Array.isArray(k)) return "field k must be an object";
  const entries: [string, readonly string[]][] = [];
  for (const [column, values] of Object.entries(k)) {
    if (column.length === 0) return "field k has an empty column name";
    if (!Array.isArray(values) || !values.every((value) => typeof value === "string"))
      return `field k.${column} must be an array of strings`;
    entries.push([column, values as string[]]);
  }
  // fromEntries defines own properties: a column named __proto__ stays a column.
  return Object.fromEntries(entries);
}

/** Build the payload a trigger would send (used by tests and by `triggerSql` documentation). */
export function formatNotifyPayload(schema: string, table: string, operation: ChangeOperation): string {
  return JSON.stringify({ v: NOTIFY_PAYLOAD_VERSION, s: schema, t: table, op: operation });
}
