import { ModelpressError } from '../errors.js';
import { floatToHalfBits, halvesToFloat32 } from '../numeric/float16.js';

/**
 * A tensor in plain host memory: what every runner takes as input and gives back as output, so inputs can be
 * shared and outputs compared across runtimes. float16 is held as its raw bits (Uint16Array), int64 and uint64
 * as bigints, bool as 0/1 bytes.
 */
export interface HostArray {
  dtype: string;
  shape: number[];
  data: HostArrayData;
}

export type HostArrayData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** Element types a runner can be fed, each with how to build its array from numbers. */
const ELEMENT_TYPES: Record<string, { float: boolean; from(values: ArrayLike<number>): HostArrayData }> = {
  float32: { float: true, from: (values) => Float32Array.from(values) },
  float64: { float: true, from: (values) => Float64Array.from(values) },
  float16: { float: true, from: (values) => Uint16Array.from(values, floatToHalfBits) },
  int8: { float: false, from: (values) => Int8Array.from(values) },
  uint8: { float: false, from: (values) => Uint8Array.from(values) },
  int16: { float: false, from: (values) => Int16Array.from(values) },
  uint16: { float: false, from: (values) => Uint16Array.from(values) },
  int32: { float: false, from: (values) => Int32Array.from(values) },
  uint32: { float: false, from: (values) => Uint32Array.from(values) },
  int64: { float: false, from: (values) => BigInt64Array.from(Array.from(values, (value) => BigInt(Math.trunc(value)))) },
  uint64: { float: false, from: (values) => BigUint64Array.from(Array.from(values, (value) => BigInt(Math.trunc(value)))) },
  bool: { float: false, from: (values) => Uint8Array.from(values, (value) => (value ? 1 : 0)) },
};

export function isFeedableDtype(dtype: string): boolean {
  return dtype in ELEMENT_TYPES;
}

/** The values as numbers (float16 decoded, 64-bit integers rounded to the nearest double). */
export function numericValues(array: HostArray): ArrayLike<number> {
  if (array.dtype === 'float16') return halvesToFloat32(array.data as Uint16Array);
  if (array.data instanceof BigInt64Array || array.data instanceof BigUint64Array) return Float64Array.from(array.data, Number);
  return array.data as ArrayLike<number>;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

/**
 * `array` as element type `dtype`. Floats convert among float types and integers (bool included) among
 * integer types, which is what two formats of one model differ by (TF.js has no int64 and no float16);
 * a float fed to an integer input, or the reverse, is a mismatch worth stopping for.
 */
export function convertHostArray(array: HostArray, dtype: string, where: string): HostArray {
  if (array.dtype === dtype) return array;
  const target = ELEMENT_TYPES[dtype];
  const source = ELEMENT_TYPES[array.dtype];
  if (!target) throw new ModelpressError(`${where}: the model takes ${dtype}, which modelpress cannot feed`);
  if (!source || source.float !== target.float) throw new ModelpressError(`${where}: the model takes ${dtype}, the input is ${array.dtype}`);
  return { dtype, shape: array.shape, data: target.from(numericValues(array)) };
}

export function hostArrayFrom(dtype: string, shape: number[], values: ArrayLike<number>): HostArray {
  const type = ELEMENT_TYPES[dtype];
  if (!type) throw new ModelpressError(`cannot make a ${dtype} array`);
  return { dtype, shape, data: type.from(values) };
}
