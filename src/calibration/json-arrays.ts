import { ModelpressError } from '../errors.js';
import { floatToHalfBits } from '../numeric/float16.js';
import type { ArrayData, FileArray } from './npy-array.js';

/**
 * Arrays written in JSON calibration files: nested arrays of numbers (or booleans), or
 * {"dtype": "int64", "shape": [2, 8], "data": [...]} with data flat or nested. int64 values may be strings
 * when they pass 2^53.
 */

export const formatShape = (shape: ReadonlyArray<number | null | string>) => `[${shape.map((dim) => dim ?? '?').join(', ')}]`;

/** Element type name -> typed array of checked values (shared with the type conversions of calibration-file.ts). */
export const ELEMENT_ARRAYS: Record<string, (values: unknown[], where: string) => ArrayData> = {
  float32: (values, where) => Float32Array.from(values, (value) => jsonNumber(value, where)),
  float64: (values, where) => Float64Array.from(values, (value) => jsonNumber(value, where)),
  float16: (values, where) => Uint16Array.from(values, (value) => floatToHalfBits(jsonNumber(value, where))),
  int8: (values, where) => Int8Array.from(values, (value) => jsonInteger(value, where, -128, 127)),
  uint8: (values, where) => Uint8Array.from(values, (value) => jsonInteger(value, where, 0, 255)),
  int16: (values, where) => Int16Array.from(values, (value) => jsonInteger(value, where, -32768, 32767)),
  uint16: (values, where) => Uint16Array.from(values, (value) => jsonInteger(value, where, 0, 65535)),
  int32: (values, where) => Int32Array.from(values, (value) => jsonInteger(value, where, -(2 ** 31), 2 ** 31 - 1)),
  uint32: (values, where) => Uint32Array.from(values, (value) => jsonInteger(value, where, 0, 2 ** 32 - 1)),
  int64: (values, where) => BigInt64Array.from(values, (value) => jsonBigInt(value, where)),
  uint64: (values, where) => BigUint64Array.from(values, (value) => jsonBigInt(value, where)),
  bool: (values, where) =>
    Uint8Array.from(values, (value) => {
      if (value === true || value === 1) return 1;
      if (value === false || value === 0) return 0;
      throw new ModelpressError(`${where}: ${JSON.stringify(value)} is not a bool`);
    }),
};

function jsonNumber(value: unknown, where: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
  throw new ModelpressError(`${where}: ${JSON.stringify(value)} is not a number`);
}

function jsonInteger(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ModelpressError(`${where}: ${JSON.stringify(value)} is not an integer in [${min}, ${max}]`);
  }
  return value;
}

function jsonBigInt(value: unknown, where: string): bigint {
  if ((typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value))) return BigInt(value);
  throw new ModelpressError(`${where}: ${JSON.stringify(value)} is not an integer`);
}

/** Nested arrays -> shape and C-order elements; every row of a level must have the same length. */
function flattenNested(value: unknown, where: string): { shape: number[]; values: unknown[] } {
  if (!Array.isArray(value)) return { shape: [], values: [value] };
  const shape = [value.length];
  const values: unknown[] = [];
  let inner: number[] | undefined;
  for (const item of value) {
    const flat = flattenNested(item, where);
    if (inner && formatShape(inner) !== formatShape(flat.shape)) throw new ModelpressError(`${where}: nested arrays are ragged (rows of shape ${formatShape(inner)} and ${formatShape(flat.shape)})`);
    inner = flat.shape;
    values.push(...flat.values);
  }
  return { shape: [...shape, ...(inner ?? [])], values };
}

/** A JSON value: nested arrays (of the input's type), or {dtype, shape, data} with data flat or nested. */
export function jsonArray(value: unknown, inputDtype: string, where: string): FileArray {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const spec = value as { dtype?: unknown; shape?: unknown; data?: unknown };
    const dtype = spec.dtype === undefined ? inputDtype : String(spec.dtype);
    if (!ELEMENT_ARRAYS[dtype]) throw new ModelpressError(`${where}: dtype '${dtype}' is not one of ${Object.keys(ELEMENT_ARRAYS).join(', ')}`);
    const flat = flattenNested(spec.data, where);
    let shape = flat.shape;
    if (spec.shape !== undefined) {
      if (!Array.isArray(spec.shape) || !spec.shape.every((dim) => Number.isInteger(dim) && dim >= 0)) throw new ModelpressError(`${where}: shape must be an array of sizes`);
      shape = spec.shape as number[];
      const count = shape.reduce((product, dim) => product * dim, 1);
      if (count !== flat.values.length) throw new ModelpressError(`${where}: shape ${formatShape(shape)} needs ${count} values, data has ${flat.values.length}`);
    }
    return { dtype, shape, data: ELEMENT_ARRAYS[dtype]!(flat.values, where) };
  }
  const flat = flattenNested(value, where);
  const convert = ELEMENT_ARRAYS[inputDtype];
  if (!convert) throw new ModelpressError(`${where}: the input's type ${inputDtype} cannot be written in JSON`);
  return { dtype: inputDtype, shape: flat.shape, data: convert(flat.values, where) };
}

