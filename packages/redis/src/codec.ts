import { UndecodableValueError, UnencodableValueError } from "./errors.js";

/** First byte of every encoded value: a reader refuses bytes of a version it does not know. */
export const CODEC_VERSION = 1;

/** How one class travels: to a string and back (Decimal: `String(d)` and `new Decimal(s)`). */
export interface ClassCodec<T> {
  readonly encode?: (value: T) => string;
  readonly decode: (text: string) => T;
}

// biome-ignore lint/suspicious/noExplicitAny: a constructor of any class
type AnyClass = abstract new (...args: any[]) => unknown;

/** The marker key of a tagged node; a plain object that has this key itself is wrapped. */
const TAG = "~";
const MAX_DEPTH = 256;

/**
 * Values as the engine returns them, to bytes and back: JSON with tagged nodes for what JSON
 * loses (Date, BigInt, Buffer, Uint8Array, undefined, NaN and the infinities, -0, and class
 * instances registered with `register`). A value it cannot carry intact is refused
 * (UnencodableValueError), never stored changed.
 */
export class ValueCodec {
  readonly #byClass = new Map<AnyClass, { name: string; encode: (value: unknown) => string }>();
  readonly #byName = new Map<string, (text: string) => unknown>();

  /** Carry instances of class `type` under `name` (the same name on every instance of the app). */
  register<T>(name: string, type: abstract new (...args: never[]) => T, codec?: ClassCodec<T>): this;
  register(name: string, type: AnyClass, codec?: ClassCodec<unknown>): this {
    const decode =
      codec?.decode ?? ((text: string) => new (type as unknown as new (text: string) => unknown)(text));
    const encode = codec?.encode ?? ((value: unknown) => String(value));
    this.#byClass.set(type, { name, encode });
    this.#byName.set(name, decode);
    return this;
  }

  encode(value: unknown): Buffer {
    const text = JSON.stringify(this.#toTree(value, "$", 0, new Set()));
    const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
    bytes[0] = CODEC_VERSION;
    bytes.write(text, 1);
    return bytes;
  }

  decode(bytes: Buffer): unknown {
    if (bytes.length < 2) throw new UndecodableValueError("too short");
    if (bytes[0] !== CODEC_VERSION) throw new UndecodableValueError(`unknown codec version ${bytes[0]}`);
    let tree: unknown;
    try {
      tree = JSON.parse(bytes.toString("utf8", 1));
    } catch (error) {
      throw new UndecodableValueError(`not JSON (${(error as Error).message})`);
    }
    return this.#fromTree(tree);
  }

  #toTree(value: unknown, path: string, depth: number, seen: Set<object>): unknown {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        if (Number.isFinite(value) && !Object.is(value, -0)) return value;
        return { [TAG]: "n", v: Object.is(value, -0) ? "-0" : String(value) };
      case "bigint":
        return { [TAG]: "b", v: value.toString() };
      case "undefined":
        return { [TAG]: "u" };
      case "object":
        break;
      default:
        throw new UnencodableValueError(path, `a ${typeof value}`);
    }
    if (value === null) return null;
    if (depth >= MAX_DEPTH) throw new UnencodableValueError(path, `nested deeper than ${MAX_DEPTH}`);
    if (seen.has(value)) throw new UnencodableValueError(path, "a cycle");
    if (value instanceof Date)
      return { [TAG]: "d", v: Number.isNaN(value.getTime()) ? null : value.getTime() };
    if (Buffer.isBuffer(value)) return { [TAG]: "buf", v: value.toString("base64") };
    if (value instanceof Uint8Array) return { [TAG]: "u8", v: Buffer.from(value).toString("base64") };
    seen.add(value);
    try {
      if (Array.isArray(value)) {
        const out = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++)
          out[i] = this.#toTree(value[i], `${path}[${i}]`, depth + 1, seen);
        return out;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const known = this.#byClass.get(proto.constructor);
        if (known === undefined) {
          const name = typeof proto.constructor === "function" ? proto.constructor.name : "unknown";
          throw new UnencodableValueError(path, `an instance of ${name} (register it with codec.register)`);
        }
        return { [TAG]: "c", n: known.name, v: known.encode(value) };
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        put(
          out,
          key,
          this.#toTree((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, seen),
        );
      }
      return Object.hasOwn(out, TAG) ? { [TAG]: "o", v: out } : out;
    } finally {
      seen.delete(value);
    }
  }

  #fromTree(node: unknown): unknown {
    if (node === null || typeof node !== "object") return node;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) node[i] = this.#fromTree(node[i]);
      return node;
    }
    const record = node as Record<string, unknown>;
    const tag = record[TAG];
    if (tag === undefined) {
      for (const key of Object.keys(record)) put(record, key, this.#fromTree(record[key]));
      return record;
    }
    const v = record.v;
    switch (tag) {
      case "n":
        return v === "-0" ? -0 : Number(v);
      case "b":
        return BigInt(v as string);
      case "u":
        return undefined;
      case "d":
        return new Date(v === null ? Number.NaN : (v as number));
      case "buf":
        return Buffer.from(v as string, "base64");
      case "u8":
        return new Uint8Array(Buffer.from(v as string, "base64"));
      case "o": {
        const inner = v as Record<string, unknown>;
        for (const key of Object.keys(inner)) put(inner, key, this.#fromTree(inner[key]));
        return inner;
      }
      case "c": {
        const decode = this.#byName.get(record.n as string);
        if (decode === undefined)
          throw new UndecodableValueError(`no class registered as ${String(record.n)}`);
        return decode(v as string);
      }
      default:
        throw new UndecodableValueError(`unknown tag ${String(tag)}`);
    }
  }
}

/** Set an own property, even one named `__proto__` (a column may be called that), never the prototype. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else target[key] = value;
}
