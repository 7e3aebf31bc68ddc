/** A fresh copy of binary data: Buffer stays Buffer, a typed array keeps its type, a DataView its window. */
export function copyView(value: ArrayBufferView): ArrayBufferView {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (value instanceof DataView) {
    return new DataView(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  }
  const TypedArray = value.constructor as new (source: ArrayBufferView) => ArrayBufferView;
  return new TypedArray(value);
}
