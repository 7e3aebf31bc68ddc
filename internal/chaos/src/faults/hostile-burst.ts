import { hostilePayloads, prototypePolluted } from "../hostile-payloads.js";
import { waitUntil } from "../sleep.js";
import { type Fault, withAdmin } from "./fault.js";

/**
 * A burst of hostile payloads on the engine's channel (plus one over the server's size limit, which
 * the server itself refuses). The engine must count every malformed one, keep serving, and leave
 * Object.prototype alone.
 */
export const hostileBurst: Fault = {
  kind: "hostile payload burst",
  async inject({ watch, url, channel }) {
    const payloads = hostilePayloads();
    const expected = payloads.filter((p) => p.malformed).length;
    const before = watch.stats();
    const oversizeRefused = await withAdmin(url, async (client) => {
      for (const { payload } of payloads) await client.query("SELECT pg_notify($1, $2)", [channel, payload]);
      try {
        await client.query("SELECT pg_notify($1, $2)", [channel, "x".repeat(8000)]);
        return false;
      } catch {
        return true;
      }
    });
    const counted = await waitUntil(
      () => watch.stats().malformedEvents >= before.malformedEvents + expected,
      10_000,
    );
    const after = watch.stats();
    // A listener loss during the burst may eat some of it: that is the loss's fault, not a failure here.
    const interrupted = after.losses !== before.losses;
    const ok = (counted || interrupted) && oversizeRefused && !prototypePolluted();
    return {
      kind: this.kind,
      ok,
      ...(ok
        ? {}
        : {
            detail: `malformed counted ${after.malformedEvents - before.malformedEvents}/${expected}, oversize refused ${oversizeRefused}, prototype polluted ${prototypePolluted()}`,
          }),
    };
  },
};
