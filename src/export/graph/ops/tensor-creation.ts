import { isStaticShape, ONNX_ELEMENT_TYPE, valueDtypeOfTf, type Dim, type GraphValue } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';

/** Shape, Rank, Size, Cast, Fill, Range, Tile, OneHot, ZerosLike/OnesLike: tensors made from shapes, ranges and copies. */

const shape: TfOpConverter = (op) => [shapeOf(op, op.input(0))];

function shapeOf(op: OpConversion, x: GraphValue): GraphValue {
  const rank = x.shape?.length;
  // A fully known shape is a constant, which later ops (Reshape, StridedSlice) can use as one.
  if (isStaticShape(x.shape)) return op.constantValue(Int32Array.from(x.shape), [x.shape.length], 'int32', `${op.node.name}/shape`);
  const dims = op.emit('Shape', [x])[0]!;
  return op.emitValue('Cast', [dims], 'int32', [rank ?? null], { to: ONNX_ELEMENT_TYPE.int32 });
}

/** Rank and Size are int32 scalars in tfjs; constants when the shape is known. */
const rank: TfOpConverter = (op) => {
  const x = op.input(0);
  if (x.shape !== undefined) return [op.constantValue(Int32Array.of(x.shape.length), [], 'int32', `${op.node.name}/rank`)];
  return [op.emitValue('Cast', [op.emit('Size', [op.emit('Shape', [x])[0]!])[0]!], 'int32', [], { to: ONNX_ELEMENT_TYPE.int32 })];
};

const size: TfOpConverter = (op) => {
  const x = op.input(0);
  if (isStaticShape(x.shape)) return [op.constantValue(Int32Array.of(x.shape.reduce((product, dim) => product * dim, 1)), [], 'int32', `${op.node.name}/size`)];
  return [op.emitValue('Cast', [op.emit('Size', [x])[0]!], 'int32', [], { to: ONNX_ELEMENT_TYPE.int32 })];
};

/**
 * OneHot along the last axis (tfjs ignores the axis attribute too). TF gives an all-off row for any index
 * outside [0, depth), ONNX wraps negative ones, so those are moved out of range first.
 */
const oneHot: TfOpConverter = (op) => {
  const [indices, depth, on, off] = [op.input(0), op.input(1), op.input(2), op.input(3)];
  const pair = (value: GraphValue) => op.emit('Reshape', [value, op.int64([1])])[0]!;
  const values = op.emit('Concat', [pair(off), pair(on)], { axis: 0 })[0]!;
  const zero = op.constantValue(Int32Array.of(0), [], 'int32', `${op.node.name}/zero`);
  const negative = op.emit('Less', [indices, zero])[0]!;
  const inRange = op.emit('Where', [negative, op.cast(depth, 'int32'), indices])[0]!;
  const shape = indices.shape === undefined ? undefined : [...indices.shape, depth.constant !== undefined ? Number(depth.constant[0]) : null];
  return [op.emitValue('OneHot', [inRange, depth, values], on.dtype, shape, { axis: -1 })];
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
  ShapeN: (op) => op.inputs.map((input) => shapeOf(op, input)),
  Rank: rank,
  Size: size,
  OneHot: oneHot,
  Cast: cast,
  Fill: fill,
  Range: range,
  Tile: tile,
  ZerosLike: filledLike(0),
  OnesLike: filledLike(1),
};
