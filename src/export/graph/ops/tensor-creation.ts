import { isStaticShape, ONNX_ELEMENT_TYPE, valueDtypeOfTf, type Dim } from '../graph-value.js';
import type { TfOpConverter } from '../op-conversion.js';

/** Shape, Cast, Fill, Range, Tile, ZerosLike/OnesLike: tensors made from shapes, ranges and copies. */

const shape: TfOpConverter = (op) => {
  const x = op.input(0);
  const rank = x.shape?.length;
  // A fully known shape is a constant, which later ops (Reshape, StridedSlice) can use as one.
  if (isStaticShape(x.shape)) return [op.constantValue(Int32Array.from(x.shape), [x.shape.length], 'int32', `${op.node.name}/shape`)];
  const dims = op.emit('Shape', [x])[0]!;
  return [op.emitValue('Cast', [dims], 'int32', [rank ?? null], { to: ONNX_ELEMENT_TYPE.int32 })];
};

const cast: TfOpConverter = (op) => {
  const target = op.attrs.type('DstT');
  const dtype = valueDtypeOfTf(target);
  if (dtype === undefined) return op.fail('Cast DstT', `${target ?? 'missing'} is not a type TF.js computes in`);
  return [op.cast(op.input(0), dtype)];
};

const fill: TfOpConverter = (op) => {
  const [dims, value] = [op.input(0), op.input(1)];
  const shape = dims.constant !== undefined ? Array.from(dims.constant, Number) : typeof dims.shape?.[0] === 'number' ? new Array<Dim>(dims.shape[0]).fill(null) : undefined;
  return [op.emitValue('Expand', [value, op.toInt64(dims)], value.dtype, shape)];
};

const range: TfOpConverter = (op) => {
  const [start, limit, delta] = [op.input(0), op.input(1), op.input(2)];
  const dtype = valueDtypeOfTf(op.attrs.type('Tidx')) ?? start.dtype;
  let length: Dim = null;
  if (start.constant && limit.constant && delta.constant) {
    length = Math.max(0, Math.ceil((limit.constant[0]! - start.constant[0]!) / delta.constant[0]!));
  }
  const scalars = [start, limit, delta].map((value) => op.cast(value, dtype));
  return [op.emitValue('Range', scalars, dtype, [length])];
};

const tile: TfOpConverter = (op) => {
  const [x, multiples] = [op.input(0), op.input(1)];
  const shape =
    x.shape && multiples.constant
      ? x.shape.map((dim, axis) => (typeof dim === 'number' ? dim * multiples.constant![axis]! : multiples.constant![axis] === 1 ? dim : null))
      : x.shape?.map(() => null);
  return [op.emitValue('Tile', [x, op.toInt64(multiples)], x.dtype, shape)];
};

function filledLike(fillValue: number): TfOpConverter {
  return (op) => {
    const x = op.input(0);
    const value = op.constantValue(x.dtype === 'float32' ? Float32Array.of(fillValue) : x.dtype === 'int32' ? Int32Array.of(fillValue) : Uint8Array.of(fillValue), [], x.dtype);
    return [op.emitValue('Expand', [value, op.emit('Shape', [x])[0]!], x.dtype, x.shape)];
  };
}

export const TENSOR_CREATION_OPS: Record<string, TfOpConverter> = {
  Shape: shape,
  Cast: cast,
  Fill: fill,
  Range: range,
  Tile: tile,
  ZerosLike: filledLike(0),
  OnesLike: filledLike(1),
};
