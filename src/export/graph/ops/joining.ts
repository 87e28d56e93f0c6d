import type { Dim, GraphValue, Shape } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';
import { normalizeAxis } from '../shapes.js';
import { unsqueezeValue } from './reshaping.js';

/** Concat, Pack and their inverses Split, SplitV, Unpack. */

function concatShape(shapes: Shape[], axis: number): Shape {
  const first = shapes.find((shape) => shape !== undefined);
  if (first === undefined) return undefined;
  const at = normalizeAxis(axis, first.length);
  const sizes = shapes.map((shape) => shape?.[at]);
  const total = sizes.every((size) => typeof size === 'number') ? (sizes as number[]).reduce((sum, size) => sum + size, 0) : null;
  return first.map((dim, index) => (index === at ? total : dim));
}

function concatValues(op: OpConversion, values: GraphValue[], axis: number): GraphValue {
  return op.emitValue('Concat', values, values[0]!.dtype, concatShape(values.map((value) => value.shape), axis), { axis });
}

const concatV2: TfOpConverter = (op) => {
  const [axis] = op.constantInts(op.inputs.length - 1, 'axis');
  return [concatValues(op, op.inputs.slice(0, -1), axis!)];
};

const concat: TfOpConverter = (op) => {
  const [axis] = op.constantInts(0, 'axis');
  return [concatValues(op, op.inputs.slice(1), axis!)];
};

/** Pack stacks along a new axis: each input gets it (Unsqueeze), then they are joined along it. */
const pack: TfOpConverter = (op) => {
  const axis = op.attrs.int('axis', 0);
  return [concatValues(op, op.inputs.map((input) => unsqueezeValue(op, input, axis)), axis)];
};

/** ONNX Split with explicit sizes; opset 18 needs either those or num_outputs. */
function splitValues(op: OpConversion, x: GraphValue, axis: number, sizes: number[] | undefined, count: number): GraphValue[] {
  const at = x.shape === undefined ? undefined : normalizeAxis(axis, x.shape.length);
  const shapeWith = (size: Dim): Shape => (x.shape === undefined ? undefined : x.shape.map((dim, index) => (index === at ? size : dim)));
  let names: string[];
  if (sizes !== undefined) names = op.emit('Split', [x, op.int64(sizes)], { axis }, count);
  else if (op.options.opset >= 18) names = op.emit('Split', [x], { axis, num_outputs: count }, count);
  else names = op.emit('Split', [x], { axis }, count);
  return names.map((name, index) => ({ dtype: x.dtype, shape: shapeWith(sizes?.[index] ?? null), name: () => name }));
}

const split: TfOpConverter = (op) => {
  const [axis] = op.constantInts(0, 'axis');
  const x = op.input(1);
  const count = op.attrs.int('num_split', 1);
  const size = x.shape?.[normalizeAxis(axis!, x.shape.length)];
  const sizes = typeof size === 'number' ? new Array<number>(count).fill(size / count) : undefined;
  return splitValues(op, x, axis!, sizes, count);
};

const splitV: TfOpConverter = (op) => {
  const x = op.input(0);
  const sizes = op.constantInts(1, 'size_splits');
  const [axis] = op.constantInts(2, 'axis');
  const open = sizes.indexOf(-1);
  if (open >= 0) {
    const size = x.shape?.[normalizeAxis(axis!, x.shape.length)];
    if (typeof size !== 'number') return op.fail('SplitV size_splits', 'a -1 size along an axis of unknown length');
    sizes[open] = size - sizes.reduce((sum, part) => (part === -1 ? sum : sum + part), 0);
  }
  return splitValues(op, x, axis!, sizes, sizes.length);
};

/** Unpack (unstack): split into slices of one along the axis, then drop that axis from each. */
const unpack: TfOpConverter = (op) => {
  const x = op.input(0);
  const axis = op.attrs.int('axis', 0);
  const count = op.attrs.int('num', typeof x.shape?.[normalizeAxis(axis, x.shape.length)] === 'number' ? (x.shape[normalizeAxis(axis, x.shape.length)] as number) : 0);
  if (count <= 0) op.fail('Unpack num', 'the number of slices is unknown');
  return splitValues(op, x, axis, new Array<number>(count).fill(1), count).map((piece) => {
    const shape = piece.shape?.filter((_, index) => index !== normalizeAxis(axis, piece.shape!.length));
    return op.emitValue('Squeeze', [piece, op.int64([axis])], piece.dtype, shape);
  });
};

export const JOINING_OPS: Record<string, TfOpConverter> = {
  ConcatV2: concatV2,
  Concat: concat,
  Pack: pack,
  Unpack: unpack,
  Split: split,
  SplitV: splitV,
};
