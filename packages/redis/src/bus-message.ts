import type { ChangeEvent } from "@pgcachewatch/core";

/**
 * One message on the bus. `t` is the relay's term (a new relay, a higher term), `s` its sequence
 * number within the term: every message, heartbeats included, takes the next one, so a
 * subscriber sees any message it missed as a gap.
 */
export type BusMessage =
  | { readonly t: number; readonly s: number; readonly k: "e"; readonly e: Omit<ChangeEvent, "receivedAt"> }
  /** Heartbeat; `r`: the relay's change source is delivering. */
  | { readonly t: number; readonly s: number; readonly k: "h"; readonly r: boolean }
  /** The relay's source became ready. */
  | { readonly t: number; readonly s: number; readonly k: "r" }
  /** The relay's source was lost, or the relay steps down. */
  | { readonly t: number; readonly s: number; readonly k: "l" };

type Body<M> = M extends BusMessage ? Omit<M, "t" | "s"> : never;
export type BusMessageBody = Body<BusMessage>;
