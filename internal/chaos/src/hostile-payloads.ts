/** The largest payload PostgreSQL accepts is 7999 bytes ("must be shorter than 8000 bytes"). */
export const MAX_PAYLOAD_BYTES = 7999;

export interface HostilePayload {
  readonly name: string;
  readonly payload: string;
  /** True when the engine must count it as malformed; false when it is a valid (if foreign) event. */
  readonly malformed: boolean;
}

/** Pad a JSON object's `pad` field so that the whole payload is exactly `bytes` long (ASCII). */
function padded(prefix: string, suffix: string, bytes: number, fill = "x"): string {
  const room = bytes - Buffer.byteLength(prefix + suffix, "utf8");
  const unit = Buffer.byteLength(fill, "utf8");
  return `${prefix}${fill.repeat(Math.floor(room / unit))}${suffix}`;
}

/**
 * Payloads a hostile or confused client may send on the engine's channel. None may throw into the
 * app, stop the listener, or invalidate anything real; the malformed ones are counted.
 */
export function hostilePayloads(): HostilePayload[] {
  const depth = Math.floor((MAX_PAYLOAD_BYTES - 1) / 2);
  const list: HostilePayload[] = [
    { name: "not JSON", payload: "not json", malformed: true },
    { name: "empty", payload: "", malformed: true },
    { name: "JSON null", payload: "null", malformed: true },
    { name: "JSON number", payload: "42", malformed: true },
    { name: "JSON string", payload: '"update public.users"', malformed: true },
    { name: "JSON array", payload: '[1,"public","users","update"]', malformed: true },
    { name: "truncated JSON", payload: '{"v":1,"s":"public","t":"us', malformed: true },
    {
      name: "byte order mark",
      payload: '\ufeff{"v":1,"s":"public","t":"users","op":"update"}',
      malformed: true,
    },
    { name: "foreign app event", payload: '{"event":"user.created","id":7}', malformed: true },
    { name: "unknown version 3", payload: '{"v":3,"s":"public","t":"users","op":"update"}', malformed: true },
    {
      name: "v2 with key values that are not strings",
      payload: '{"v":2,"s":"public","t":"users","op":"update","k":{"id":[1]}}',
      malformed: true,
    },
    {
      name: "version as string",
      payload: '{"v":"1","s":"public","t":"users","op":"update"}',
      malformed: true,
    },
    { name: "version null", payload: '{"v":null,"s":"public","t":"users","op":"update"}', malformed: true },
    {
      name: "duplicate key, last wins",
      payload: '{"v":1,"s":"public","t":"u","op":"update","v":3}',
      malformed: true,
    },
    { name: "unknown operation", payload: '{"v":1,"s":"public","t":"users","op":"merge"}', malformed: true },
    { name: "empty schema", payload: '{"v":1,"s":"","t":"users","op":"update"}', malformed: true },
    { name: "table is a number", payload: '{"v":1,"s":"public","t":7,"op":"update"}', malformed: true },
    { name: "table missing", payload: '{"v":1,"s":"public","op":"update"}', malformed: true },
    {
      name: "ts not a number",
      payload: '{"v":1,"s":"public","t":"users","op":"update","ts":"now"}',
      malformed: true,
    },
    {
      name: "ts overflows to Infinity",
      payload: '{"v":1,"s":"public","t":"users","op":"update","ts":1e999}',
      malformed: true,
    },
    {
      name: "constructor.prototype pollution attempt",
      payload: '{"constructor":{"prototype":{"pgcwPolluted":true}}}',
      malformed: true,
    },
    { name: `nested ${depth} deep`, payload: `${"[".repeat(depth)}${"]".repeat(depth)}`, malformed: true },
    {
      name: `${MAX_PAYLOAD_BYTES}-byte malformed`,
      payload: padded('{"v":1,"pad":"', '"}', MAX_PAYLOAD_BYTES),
      malformed: true,
    },
    {
      name: `${MAX_PAYLOAD_BYTES}-byte multibyte malformed`,
      payload: padded('{"v":9,"s":"', '"}', MAX_PAYLOAD_BYTES - 1, "\u00e9"),
      malformed: true,
    },
    // Valid events for tables nobody caches: harmless extra invalidations, never errors.
    {
      name: "__proto__ key",
      payload:
        '{"__proto__":{"pgcwPolluted":true},"v":1,"s":"public","t":"pgcw_no_such_table","op":"update"}',
      malformed: false,
    },
    {
      name: "SQL in the table name",
      payload: JSON.stringify({ v: 1, s: "public", t: 'x"; DROP TABLE users; --', op: "truncate" }),
      malformed: false,
    },
    { name: "lone surrogate", payload: '{"v":1,"s":"public","t":"\\ud800","op":"delete"}', malformed: false },
    {
      name: "NUL escape in the name",
      payload: '{"v":1,"s":"public","t":"a\\u0000b","op":"insert"}',
      malformed: false,
    },
    {
      name: `${MAX_PAYLOAD_BYTES}-byte valid event`,
      payload: padded('{"v":1,"s":"public","op":"update","t":"', '"}', MAX_PAYLOAD_BYTES),
      malformed: false,
    },
  ];
  for (const item of list) {
    if (Buffer.byteLength(item.payload, "utf8") > MAX_PAYLOAD_BYTES) {
      throw new Error(`hostile payload "${item.name}" is over ${MAX_PAYLOAD_BYTES} bytes`);
    }
  }
  return list;
}

/** True if a payload managed to add a property to Object.prototype. */
export function prototypePolluted(): boolean {
  return (Object.prototype as Record<string, unknown>).pgcwPolluted !== undefined;
}
