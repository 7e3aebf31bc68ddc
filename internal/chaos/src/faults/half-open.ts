import { sleep } from "../sleep.js";
import { eventWithin, type Fault } from "./fault.js";

/**
 * The proxy between the listener and the server stops forwarding without closing anything: no FIN,
 * no RST, like a dead network path. Only the heartbeat can notice. The engine must step aside
 * (bypass) until a new listener works, which it cannot before the proxy thaws.
 */
export const halfOpen: Fault = {
  kind: "half-open socket",
  async inject({ watch, proxy, heartbeatInterval }) {
    if (proxy === undefined) return { kind: this.kind, ok: false, detail: "no proxy" };
    if (!watch.isServing()) return { kind: this.kind, ok: false, detail: "engine was not serving" };
    const lost = eventWithin(watch, "lost", 2 * heartbeatInterval + 15_000);
    proxy.freeze();
    const noticed = await lost.promise;
    // Stay frozen a little longer: reconnect attempts meet the same dead path.
    await sleep(heartbeatInterval);
    const stillAside = !watch.isServing();
    const ready = eventWithin(watch, "ready", 30_000);
    proxy.thaw();
    const back = await ready.promise;
    const ok = noticed && stillAside && back;
    return {
      kind: this.kind,
      ok,
      ...(ok
        ? {}
        : {
            detail: !noticed
              ? "heartbeat did not notice"
              : !stillAside
                ? "served while the path was dead"
                : "not back after thaw",
          }),
    };
  },
};
