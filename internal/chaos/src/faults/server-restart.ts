import { eventWithin, type Fault } from "./fault.js";

/** A full stop and start of a server this process started. */
export const serverRestart: Fault = {
  kind: "server restart",
  async inject({ watch, server }) {
    if (server === undefined) return { kind: this.kind, ok: false, detail: "no restartable server" };
    const lost = eventWithin(watch, "lost", 30_000);
    await server.restart();
    const wasLost = await lost.promise;
    const back = watch.isServing() || (await eventWithin(watch, "ready", 30_000).promise);
    const ok = wasLost && back;
    return {
      kind: this.kind,
      ok,
      ...(ok ? {} : { detail: wasLost ? "not back after restart" : "loss not noticed" }),
    };
  },
};
