import { sleep } from "../sleep.js";
import { eventWithin, type Fault, listenerPids, withAdmin } from "./fault.js";

/** The permanent replication slot the chaos run gives the WAL source. */
export const CHAOS_SLOT = "pgcw_chaos_slot";

/**
 * The WAL source's replication slot dropped behind its back: terminate the WAL sender (an active
 * slot cannot be dropped) and drop the slot before the source reconnects. Whatever was committed
 * meanwhile is gone from the stream; the engine must flush and come back on a new slot.
 */
export const slotDrop: Fault = {
  kind: "slot dropped",
  async inject({ watch, url }) {
    if (!watch.isServing()) return { kind: this.kind, ok: false, detail: "engine was not serving" };
    const lost = eventWithin(watch, "lost", 10_000);
    const dropped = await withAdmin(url, async (client) => {
      for (let attempt = 0; attempt < 50; attempt++) {
        for (const pid of await listenerPids(client))
          await client.query("SELECT pg_terminate_backend($1)", [pid]);
        const { rows } = await client.query<{ dropped: boolean }>(
          `SELECT count(pg_drop_replication_slot(slot_name)) > 0 AS dropped
             FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
          [CHAOS_SLOT],
        );
        if (rows[0]?.dropped) return true;
        await sleep(5);
      }
      return false;
    });
    const wasLost = await lost.promise;
    const back = watch.isServing() || (await eventWithin(watch, "ready", 30_000).promise);
    const recreated = await withAdmin(url, async (client) => {
      const { rows } = await client.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [
        CHAOS_SLOT,
      ]);
      return rows.length === 1;
    });
    const ok = dropped && wasLost && back && recreated;
    return {
      kind: this.kind,
      ok,
      ...(ok
        ? {}
        : {
            detail: `dropped ${dropped}, lost ${wasLost}, back ${back}, slot recreated ${recreated}`,
          }),
    };
  },
};
