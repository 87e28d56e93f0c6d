import type { ConstantValues, Dim, Shape } from './graph-value.js';

/** Shape bookkeeping for the converter: what each op does to what is known of its inputs' shapes. */

/** NumPy broadcasting, as TF and ONNX elementwise ops both follow it. */
export function broadcastShapes(...shapes: Shape[]): Shape {
  if (shapes.some((shape) => shape === undefined)) return undefined;
  const rank = Math.max(...shapes.map((shape) => shape!.length));
  const result: Dim[] = [];
  for (let axis = 0; axis < rank; axis++) {
    // Shorter shapes are padded with 1s in front.
    const dims = shapes.map((shape) => {
      const at = shape!.length - rank + axis;
      return at < 0 ? 1 : shape![at]!;
    });
    result.push(dims.reduce<Dim>((merged, dim) => broadcastDim(merged, dim), 1));
  }
  return result;
}

function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === b) return a;
  // A size other than 1 wins over an open dimension, which must then equal it (or be 1).
  if (typeof a === 'number' && a !== 1 && typeof b !== 'number') return a;
  if (typeof b === 'number' && b !== 1 && typeof a !== 'number') return b;
  return null;
}

/** A TF axis in [-rank, rank) as a non-negative one. */
export function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function transposeShape(shape: Shape, perm: number[]): Shape {
  return shape === undefined ? undefined : perm.map((axis) => shape[axis] ?? null);
}

/** Row-major strides of a static shape. */
function stridesOf(shape: number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let axis = shape.length - 2; axis >= 0; axis--) strides[axis] = strides[axis + 1]! * shape[axis + 1]!;
  return strides;
}

/** Constant folding for weights stored in TF layout (conv filters HWIO -> OIHW, transposed matrices). */
export function transposeValues<T extends ConstantValues>(values: T, shape: number[], perm: number[]): T {
  const outShape = perm.map((axis) => shape[axis]!);
  const inStrides = stridesOf(shape);
  const outStrides = stridesOf(outShape);
  const result = new (values.constructor as new (length: number) => T)(values.length);
  const index = new Array<number>(outShape.length).fill(0);
  for (let flat = 0; flat < values.length; flat++) {
    let source = 0;
    let rest = flat;
    for (let axis = 0; axis < outShape.length; axis++) {
      index[axis] = Math.floor(rest / outStrides[axis]!);
      rest -= index[axis]! * outStrides[axis]!;
      source += index[axis]! * inStrides[perm[axis]!]!;
    }
    result[flat] = values[source]!;
  }
  return result;
}

/** The other dims' product when one of them is -1 (Reshape), if the element count is known. */
export function reshapeShape(input: Shape, target: number[]): Shape {
  const known = input !== undefined && input.every((dim) => typeof dim === 'number');
  const inputCount = known ? (input as number[]).reduce((product, size) => product * size, 1) : undefined;
  const fixed = target.filter((size) => size !== -1).reduce((product, size) => product * size, 1);
  return target.map((size) => (size !== -1 ? size : inputCount !== undefined && fixed > 0 ? inputCount / fixed : null));
}

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];
