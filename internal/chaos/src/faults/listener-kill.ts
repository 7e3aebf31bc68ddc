import { eventWithin, type Fault, listenerPids, withAdmin } from "./fault.js";

/** `pg_terminate_backend` on the listener's backend: the engine must lose it, flush, and come back. */
export const listenerKill: Fault = {
  kind: "listener kill",
  async inject({ watch, url }) {
    if (!watch.isServing()) return { kind: this.kind, ok: false, detail: "engine was not serving" };
    const lost = eventWithin(watch, "lost", 10_000);
    const ready = eventWithin(watch, "ready", 30_000);
    const killed = await withAdmin(url, async (client) => {
      const pids = await listenerPids(client);
      let n = 0;
      for (const pid of pids) {
        const { rows } = await client.query<{ ok: boolean }>("SELECT pg_terminate_backend($1) AS ok", [pid]);
        if (rows[0]?.ok) n++;
      }
      return n;
    });
    if (killed === 0) {
      lost.cancel();
      ready.cancel();
      return { kind: this.kind, ok: false, detail: "no listener backend found" };
    }
    const wasLost = await lost.promise;
    const back = await ready.promise;
    return {
      kind: this.kind,
      ok: wasLost && back,
      ...(wasLost && back ? {} : { detail: wasLost ? "listener did not come back" : "loss not noticed" }),
    };
  },
};
