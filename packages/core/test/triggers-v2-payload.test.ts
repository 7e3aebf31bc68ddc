import { describe, expect, it } from "vitest";
import { parseNotifyPayload } from "../src/events/notify-payload.js";
import { sealPayload } from "../src/events/signed-payload.js";

const at = 1_800_000_000_000;

describe("payload v2", () => {
  it("carries the key values into ChangeEvent.columns", () => {
    const parsed = parseNotifyPayload(
      '{"v":2,"s":"public","t":"orders","op":"update","ts":1800000000000,"k":{"id" : ["1", "10"], "customer_id" : []}}',
      at,
    );
    expect(parsed).toEqual({
      ok: true,
      event: {
        schema: "public",
        table: "orders",
        operation: "update",
        sentAt: at,
        receivedAt: at,
        columns: { id: ["1", "10"], customer_id: [] },
      },
    });
  });

  it("is table-wide without k, for TRUNCATE, and for every v1 payload", () => {
    for (const payload of [
      '{"v":2,"s":"public","t":"orders","op":"insert"}',
      '{"v":2,"s":"public","t":"orders","op":"truncate","k":{"id":["1"]}}',
      '{"v":1,"s":"public","t":"orders","op":"insert"}',
    ]) {
      const parsed = parseNotifyPayload(payload, at);
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect(parsed.event.columns).toBeUndefined();
    }
  });

  it("reads a v2 payload inside a signed envelope", () => {
    const payload = '{"v":2,"s":"public","t":"orders","op":"delete","k":{"id":["7"]}}';
    const parsed = parseNotifyPayload(sealPayload("secret", "42", payload), at);
    expect(parsed.ok && parsed.event.columns).toEqual({ id: ["7"] });
  });

  it("keeps a column named __proto__ as a column", () => {
    const parsed = parseNotifyPayload('{"v":2,"s":"p","t":"t","op":"insert","k":{"__proto__":["1"]}}', at);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(Object.hasOwn(parsed.event.columns ?? {}, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(parsed.event.columns)).toBe(Object.prototype);
  });

  it.each([
    ['{"v":2,"s":"p","t":"t","op":"insert","k":["1"]}', "bad-field"],
    ['{"v":2,"s":"p","t":"t","op":"insert","k":null}', "bad-field"],
    ['{"v":2,"s":"p","t":"t","op":"insert","k":"id"}', "bad-field"],
    ['{"v":2,"s":"p","t":"t","op":"insert","k":{"id":[1]}}', "bad-field"],
    ['{"v":2,"s":"p","t":"t","op":"insert","k":{"id":"1"}}', "bad-field"],
    ['{"v":2,"s":"p","t":"t","op":"insert","k":{"id":[null]}}', "bad-field"],
    ['{"v":2,"s":"p","t":"t","op":"insert","k":{"":["1"]}}', "bad-field"],
    ['{"v":1,"s":"p","t":"t","op":"insert","k":{"id":["1"]}}', "bad-field"],
    ['{"v":3,"s":"p","t":"t","op":"insert"}', "unknown-version"],
    [`{"v":2,"s":"p","t":"t","op":"insert","k":{"id":["${"9".repeat(8000)}"]}}`, "oversized"],
  ])("refuses %s (%s), so the source counts and skips it", (payload, problem) => {
    const parsed = parseNotifyPayload(payload, at);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toBe(problem);
  });
});
