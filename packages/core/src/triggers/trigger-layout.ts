import { KEYED_TRIGGERS, TRIGGER_NAME, TRIGGER_TYPE } from "./definitions.js";

/** One of PGCacheWatch's triggers on a table, as the catalog shows it. */
export interface InstalledTrigger {
  readonly name: string;
  readonly type: number;
  /** pg_trigger.tgenabled: `O` fires in normal sessions. */
  readonly enabled: string;
  readonly oldTable: string | null;
  readonly newTable: string | null;
  readonly arguments: readonly string[];
}

/**
 * What a table's triggers send. `keyed`: revision 3's per-operation triggers (key values, payload
 * v2). `table-wide`: the single trigger of revisions 1 and 2 (every event table-wide). `partial`:
 * some of revision 3's triggers are missing or one of them is disabled or altered.
 */
export type TriggerLayout =
  | {
      readonly kind: "keyed";
      readonly channel: string;
      readonly maxRows: number;
      readonly keyColumns: readonly string[];
      readonly active: boolean;
    }
  | { readonly kind: "table-wide"; readonly channel: string; readonly active: boolean }
  | { readonly kind: "partial"; readonly channel: string };

/** Read a table's layout from its triggers (those calling PGCacheWatch's function). */
export function triggerLayout(triggers: readonly InstalledTrigger[]): TriggerLayout | null {
  const first = triggers[0];
  if (first === undefined) return null;
  const channel = first.arguments[0] ?? "";
  const legacy = triggers.find((trigger) => trigger.name === TRIGGER_NAME);
  if (legacy !== undefined && triggers.length === 1) {
    return {
      kind: "table-wide",
      channel: legacy.arguments[0] ?? "",
      active: legacy.enabled === "O" && legacy.type === TRIGGER_TYPE,
    };
  }
  const keyed = KEYED_TRIGGERS.map((spec) => ({
    spec,
    trigger: triggers.find((trigger) => trigger.name === spec.name),
  }));
  const insert = keyed[0]?.trigger;
  if (insert === undefined || triggers.length !== KEYED_TRIGGERS.length) return { kind: "partial", channel };
  const [insertChannel = "", bound = "", ...keyColumns] = insert.arguments;
  let active = true;
  for (const { spec, trigger } of keyed) {
    if (trigger === undefined) return { kind: "partial", channel };
    const wantedArguments = spec.operation === "truncate" ? [insertChannel] : insert.arguments;
    if (
      trigger.type !== spec.type ||
      trigger.oldTable !== spec.oldTable ||
      trigger.newTable !== spec.newTable ||
      !sameStrings(trigger.arguments, wantedArguments)
    ) {
      return { kind: "partial", channel };
    }
    if (trigger.enabled !== "O") active = false;
  }
  // The bound may end in "j" (key columns whose JSON strings are their text: the trigger's JSON path).
  const maxRows = /^[0-9]{1,9}j?$/.test(bound) ? Number.parseInt(bound, 10) : Number.NaN;
  if (!Number.isFinite(maxRows)) return { kind: "partial", channel };
  return { kind: "keyed", channel: insertChannel, maxRows, keyColumns, active };
}

export function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/** The value under `key`, created with `make` the first time. */
export function getOrAdd<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
