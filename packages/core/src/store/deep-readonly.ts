/** Values a frozen result holds as they are: primitives, and objects the type cannot make read-only. */
type KeptAsIs =
  | string
  | number
  | bigint
  | boolean
  | symbol
  | null
  | undefined
  | Date
  | ArrayBuffer
  | ArrayBufferView
  | ((...args: never[]) => unknown);

/** True when some member of T is a method: a class instance such as Prisma's Decimal, kept as is. */
type HasMethod<T> = [
  { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? true : never }[keyof T],
] extends [never]
  ? false
  : true;

/**
 * The type of a frozen result (isolation "freeze"): arrays become ReadonlyArray, Map and Set
 * ReadonlyMap and ReadonlySet, and objects get readonly fields, all the way down. Primitives,
 * Date, Buffer and other binary data, and class instances with methods (Decimal) stay as they are.
 */
export type DeepReadonly<T> = T extends KeptAsIs
  ? T
  : T extends ReadonlyMap<infer K, infer V>
    ? ReadonlyMap<DeepReadonly<K>, DeepReadonly<V>>
    : T extends ReadonlySet<infer E>
      ? ReadonlySet<DeepReadonly<E>>
      : T extends readonly unknown[]
        ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
        : HasMethod<T> extends true
          ? T
          : { readonly [K in keyof T]: DeepReadonly<T[K]> };
