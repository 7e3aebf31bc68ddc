import type { ChangeEvent } from "../../events/change-event.js";

interface Batch {
  readonly due: number;
  readonly events: readonly ChangeEvent[];
}

/**
 * Rule 9. The WAL sender decodes a commit once its record is flushed, a moment before the committing
 * backend leaves the proc array; a snapshot taken in between still sees the old rows. A read that
 * started in that window passed the fill guard with pre-change data. Reporting each change a second
 * time after `delay` ms drops such an entry (or rejects the still-running load).
 *
 * Batches due together are merged into one event per table and operation, so a busy table costs one
 * timer and one extra invalidation per tick, not one per transaction.
 */
export class VisibilityRecheck {
  private readonly queue: Batch[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly delay: number,
    private readonly maxKeysPerEvent: number,
    private readonly emit: (event: ChangeEvent) => void,
  ) {}

  schedule(events: readonly ChangeEvent[]): void {
    if (events.length === 0) return;
    this.queue.push({ due: Date.now() + this.delay, events });
    if (!this.timer) this.arm(this.delay);
  }

  /** Pending re-reports (for tests and stop()). */
  get pending(): number {
    return this.queue.length;
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.flush(), Math.max(0, ms));
    this.timer.unref?.();
  }

  private flush(): void {
    this.timer = undefined;
    const now = Date.now();
    const merged = new Map<string, ChangeEvent>();
    while (this.queue.length > 0 && (this.queue[0]?.due ?? Number.POSITIVE_INFINITY) <= now) {
      const batch = this.queue.shift();
      for (const event of batch?.events ?? []) {
        const key = `${event.schema}\u0000${event.table}\u0000${event.operation}`;
        const previous = merged.get(key);
        merged.set(key, previous ? this.merge(previous, event) : event);
      }
    }
    for (const event of merged.values()) this.emit(event);
    const next = this.queue[0];
    if (next) this.arm(next.due - now);
  }

  private merge(a: ChangeEvent, b: ChangeEvent): ChangeEvent {
    const { keys: _a, columns: _c, ...base } = a;
    const columns = mergeColumns(a.columns, b.columns, this.maxKeysPerEvent);
    const withColumns = columns === undefined ? base : { ...base, columns };
    if (!a.keys || !b.keys || a.keys.length + b.keys.length > this.maxKeysPerEvent) return withColumns;
    return { ...withColumns, keys: [...a.keys, ...b.keys] };
  }
}

/** Values of two events on one table: a column is known only if both knew it. */
function mergeColumns(
  a: ChangeEvent["columns"],
  b: ChangeEvent["columns"],
  maxValues: number,
): ChangeEvent["columns"] {
  if (a === undefined || b === undefined) return undefined;
  const out: Record<string, readonly string[]> = {};
  for (const column of Object.keys(a)) {
    const other = b[column];
    if (other === undefined) continue;
    const values = [...new Set([...(a[column] ?? []), ...other])];
    if (values.length <= maxValues) out[column] = values;
  }
  return out;
}
