import { TimeSeriesRing } from "./time-series-ring.js";

export interface SourceTransition {
  /** ms since epoch. */
  readonly at: number;
  readonly state: "serving" | "lost";
  /** For "serving": the source had been ready before (a reconnect). */
  readonly reconnect: boolean;
}

/** The change source's recent ups and downs (the last 100), for the inspector's state strip. */
export class SourceTimeline {
  readonly #transitions = new TimeSeriesRing<SourceTransition>(100);
  reconnects = 0;
  losses = 0;

  ready(reconnect: boolean): void {
    if (reconnect) this.reconnects++;
    this.#transitions.push({ at: Date.now(), state: "serving", reconnect });
  }

  lost(): void {
    this.losses++;
    this.#transitions.push({ at: Date.now(), state: "lost", reconnect: false });
  }

  transitions(): SourceTransition[] {
    return this.#transitions.toArray();
  }
}
