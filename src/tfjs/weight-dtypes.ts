/**
 * The element types a TF.js weights manifest can store, declared once. A weight's bytes in a shard are
 * `shape` elements of its *stored* type: the quantization dtype when the spec is quantized, else its dtype.
 * Multi-byte values are little endian (tfjs writes them through typed arrays; tfjs-converter through
 * numpy's `tobytes()` on little-endian hosts).
 */

export type TypedArrayConstructor =
  | Float32ArrayConstructor
  | Int32ArrayConstructor
  | Uint16ArrayConstructor
  | Uint8ArrayConstructor;

export interface TfjsDtypeTraits {
  /** Bytes of one element on disk; null for strings, whose elements carry their own length. */
  bytesPerElement: number | null;
  /** The typed array the stored bytes are viewed as (strings: the raw bytes). */
  ArrayType: TypedArrayConstructor;
}

export const TFJS_DTYPES = {
  float32: { bytesPerElement: 4, ArrayType: Float32Array },
  int32: { bytesPerElement: 4, ArrayType: Int32Array },
  bool: { bytesPerElement: 1, ArrayType: Uint8Array },
  // Interleaved real and imaginary float32 parts.
  complex64: { bytesPerElement: 8, ArrayType: Float32Array },
  // Each element is a little-endian uint32 byte length followed by that many bytes (tfjs io_utils).
  string: { bytesPerElement: null, ArrayType: Uint8Array },
  // The next three are what quantized weights are stored as; tfjs-converter can also write them raw.
  uint8: { bytesPerElement: 1, ArrayType: Uint8Array },
  uint16: { bytesPerElement: 2, ArrayType: Uint16Array },
  // IEEE 754 half precision bit patterns.
  float16: { bytesPerElement: 2, ArrayType: Uint16Array },
} as const satisfies Record<string, TfjsDtypeTraits>;

export type TfjsDtype = keyof typeof TFJS_DTYPES;

/** Bytes preceding each string element, holding its length. */
export const STRING_LENGTH_PREFIX_BYTES = 4;

export function isTfjsDtype(name: unknown): name is TfjsDtype {
  return typeof name === 'string' && Object.hasOwn(TFJS_DTYPES, name);
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}
