/**
 * Axis permutations as ONNX's Transpose reads them: output axis i is input axis perm[i].
 */

/** Transpose(Transpose(x, first), second) == Transpose(x, composePerms(first, second)). */
export function composePerms(first: number[], second: number[]): number[] {
  return second.map((axis) => first[axis]!);
}

export function invertPerm(perm: number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((axis, index) => (inverse[axis] = index));
  return inverse;
}

export function isIdentityPerm(perm: number[]): boolean {
  return perm.every((axis, index) => axis === index);
}

export function samePerm(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((axis, index) => axis === b[index]);
}

/** [0, r-1, 1, ..., r-2]: channels-last (NHWC) to channels-first (NCHW). */
export function channelsLastToFirst(rank: number): number[] {
  return [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, index) => index + 1)];
}

/** [0, 2, ..., r-1, 1]: channels-first back to channels-last. */
export function channelsFirstToLast(rank: number): number[] {
  return invertPerm(channelsLastToFirst(rank));
}

/** The values of a row-major tensor transposed by `perm` (a Keras kernel into ONNX's weight layout). */
export function permuteValues(values: Float32Array, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((axis) => shape[axis]!);
  const inStrides = new Array<number>(rank).fill(1);
  for (let axis = rank - 2; axis >= 0; axis--) inStrides[axis] = inStrides[axis + 1]! * shape[axis + 1]!;
  const out = new Float32Array(values.length);
  const index = new Array<number>(rank).fill(0);
  for (let flat = 0; flat < out.length; flat++) {
    let source = 0;
    for (let axis = 0; axis < rank; axis++) source += index[axis]! * inStrides[perm[axis]!]!;
    out[flat] = values[source]!;
    for (let axis = rank - 1; axis >= 0; axis--) {
      if (++index[axis]! < outShape[axis]!) break;
      index[axis] = 0;
    }
  }
  return out;
}
