import { ONNX_TYPE } from '../../onnx/data-types.js';

/**
 * A TF tensor as the GraphModel converter sees it while walking the graph: its element type, what is known
 * of its shape, and, for constants, its values. TF.js runs every integer type as int32, so the exported
 * model does too (int64 appears only where an ONNX op demands it, and is cast back).
 */

export type ValueDtype = 'float32' | 'int32' | 'bool';

/** A dimension: its size, a symbolic name (an open input dimension, e.g. 'batch'), or null when unknown. */
export type Dim = number | string | null;

/** undefined when not even the rank is known. */
export type Shape = Dim[] | undefined;

export type ConstantValues = Float32Array | Int32Array | Uint8Array;

export const ONNX_ELEMENT_TYPE: Record<ValueDtype, number> = {
  float32: ONNX_TYPE.FLOAT32!,
  int32: ONNX_TYPE.INT32!,
  bool: ONNX_TYPE.BOOL!,
};

/** TF DataType enum names to the dtype TF.js computes in (tfjs-converter parseDtypeParam). */
const TF_DTYPES: Record<string, ValueDtype> = {
  DT_FLOAT: 'float32',
  DT_HALF: 'float32',
  DT_DOUBLE: 'float32',
  DT_INT32: 'int32',
  DT_INT64: 'int32',
  DT_INT8: 'int32',
  DT_UINT8: 'int32',
  DT_INT16: 'int32',
  DT_BOOL: 'bool',
};

export function valueDtypeOfTf(tfType: unknown): ValueDtype | undefined {
  return typeof tfType === 'string' ? TF_DTYPES[tfType] : undefined;
}

export interface GraphValue {
  dtype: ValueDtype;
  shape: Shape;
  /** Values of a constant (a Const node, or folded from constants), row-major. */
  constant?: ConstantValues;
  /** The ONNX value name; a constant becomes an initializer the first time its name is asked for. */
  name(): string;
}

export function isStaticShape(shape: Shape): shape is number[] {
  return shape !== undefined && shape.every((dim) => typeof dim === 'number');
}

export function elementCountOf(shape: number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

export function rankOf(value: GraphValue): number | undefined {
  return value.shape?.length;
}
