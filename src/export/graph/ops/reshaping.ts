import type { Dim, GraphValue, Shape } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';
import { requireChannelsLast, toChannelsFirst, toChannelsLast } from '../layout.js';
import { broadcastShapes, normalizeAxis, reshapeShape, transposeShape } from '../shapes.js';

/**
 * Ops that rearrange a tensor's values without computing new ones: Reshape, Transpose, Squeeze, ExpandDims,
 * BroadcastTo, DepthToSpace, SpaceToBatchND/BatchToSpaceND.
 */

const reshape: TfOpConverter = (op) => {
  const [x, shapeValue] = [op.input(0), op.input(1)];
  if (shapeValue.constant === undefined) {
    const rank = shapeValue.shape?.[0];
    return [op.emitValue('Reshape', [x, op.toInt64(shapeValue)], x.dtype, typeof rank === 'number' ? new Array<Dim>(rank).fill(null) : undefined)];
  }
  const target = Array.from(shapeValue.constant, Number);
  // TF's 0 is an empty dimension, ONNX's 0 copies the input's unless allowzero (opset 14) says otherwise.
  const attributes: Record<string, number> = target.includes(0) ? { allowzero: 1 } : {};
  if (target.includes(0) && op.options.opset < 14) op.fail('Reshape shape', 'a zero-size dimension needs opset 14 or later');
  return [op.emitValue('Reshape', [x, op.int64(target)], x.dtype, inferredReshape(x.shape, target), attributes)];
};

/** reshapeShape, plus the common `[-1, ...fixed]` on a symbolic batch: the open dimension carries over. */
function inferredReshape(input: Shape, target: number[]): Shape {
  const shape = reshapeShape(input, target);
  if (input === undefined || shape === undefined) return shape;
  const open = input.filter((dim) => typeof dim !== 'number');
  const unknownAt = target.indexOf(-1);
  if (open.length !== 1 || typeof open[0] !== 'string' || unknownAt < 0) return shape;
  const knownInput = (input.filter((dim) => typeof dim === 'number') as number[]).reduce((product, size) => product * size, 1);
  const knownTarget = target.filter((size) => size !== -1).reduce((product, size) => product * size, 1);
  if (knownInput === knownTarget) shape[unknownAt] = open[0];
  return shape;
}

const transpose: TfOpConverter = (op) => {
  const x = op.input(0);
  const perm = op.constantInts(1, 'perm');
  return [op.emitValue('Transpose', [x], x.dtype, transposeShape(x.shape, perm), { perm })];
};

const squeeze: TfOpConverter = (op) => {
  const x = op.input(0);
  const axes = op.attrs.has('squeeze_dims') ? op.attrs.ints('squeeze_dims', []) : op.attrs.ints('axis', []);
  if (axes.length === 0) {
    // Both drop every size-1 dimension when no axis is given.
    const shape = x.shape?.every((dim) => typeof dim === 'number') ? x.shape.filter((dim) => dim !== 1) : undefined;
    return [op.emitValue('Squeeze', [x], x.dtype, shape)];
  }
  const rank = x.shape?.length;
  const dropped = rank === undefined ? undefined : new Set(axes.map((axis) => normalizeAxis(axis, rank)));
  const shape = dropped === undefined ? undefined : x.shape!.filter((_, axis) => !dropped.has(axis));
  return [op.emitValue('Squeeze', [x, op.int64(axes)], x.dtype, shape)];
};

/** An axis in [-rank-1, rank]: ONNX Unsqueeze counts negative axes from the output's rank, as TF does. */
function unsqueezeShape(shape: Shape, axis: number): Shape {
  if (shape === undefined) return undefined;
  const position = axis < 0 ? axis + shape.length + 1 : axis;
  return [...shape.slice(0, position), 1, ...shape.slice(position)];
}

export function unsqueezeValue(op: OpConversion, x: GraphValue, axis: number): GraphValue {
  return op.emitValue('Unsqueeze', [x, op.int64([axis])], x.dtype, unsqueezeShape(x.shape, axis));
}

const expandDims: TfOpConverter = (op) => {
  const [axis] = op.constantInts(1, 'axis');
  return [unsqueezeValue(op, op.input(0), axis!)];
};

const broadcastTo: TfOpConverter = (op) => {
  const [x, shape] = [op.input(0), op.input(1)];
  const target: Shape = shape.constant !== undefined ? Array.from(shape.constant, Number) : typeof shape.shape?.[0] === 'number' ? new Array<Dim>(shape.shape[0]).fill(null) : undefined;
  return [op.emitValue('Expand', [x, op.toInt64(shape)], x.dtype, broadcastShapes(x.shape, target))];
};

/** TF's DepthToSpace moves channel blocks (block row, block column, channel) into space: ONNX's DCR order. */
const depthToSpace: TfOpConverter = (op) => {
  requireChannelsLast(op);
  const x = op.input(0);
  const block = op.attrs.int('block_size', 2);
  const [batch, height, width, channels] = x.shape ?? [null, null, null, null];
  const scaled = (dim: Dim | undefined, factor: number): Dim => (typeof dim === 'number' ? dim * factor : null);
  const moved = op.emitValue('DepthToSpace', [toChannelsFirst(op, x)], x.dtype, [batch ?? null, scaled(channels, 1 / (block * block)), scaled(height, block), scaled(width, block)], { blocksize: block, mode: 'DCR' });
  return [toChannelsLast(op, moved)];
};

/** The block sizes and the spatial (and trailing) sizes SpaceToBatchND/BatchToSpaceND need as constants. */
function blockLayout(op: OpConversion, x: GraphValue, role: string): { block: number[]; spatial: number[]; trailing: number[]; rows: number[][] } {
  const block = op.constantInts(1, 'block_shape');
  const flat = op.constantInts(2, role);
  const rows = block.map((_, axis) => [flat[2 * axis]!, flat[2 * axis + 1]!]);
  const sizes = x.shape?.slice(1);
  if (sizes === undefined || !sizes.every((size) => typeof size === 'number')) op.fail(`${op.node.op} input`, 'the sizes after the batch must be known');
  return { block, spatial: (sizes as number[]).slice(0, block.length), trailing: (sizes as number[]).slice(block.length), rows };
}

/**
 * SpaceToBatchND (how TF runs dilated convs): pad the spatial axes, cut each into (size / block, block),
 * move the block axes in front of the batch and fold them into it.
 */
const spaceToBatch: TfOpConverter = (op) => {
  const x = op.input(0);
  const { block, spatial, trailing, rows } = blockLayout(op, x, 'paddings');
  const padded = spatial.map((size, axis) => size + rows[axis]![0]! + rows[axis]![1]!);
  const pads = [0, ...rows.map((row) => row[0]!), ...trailing.map(() => 0), 0, ...rows.map((row) => row[1]!), ...trailing.map(() => 0)];
  const input = rows.some((row) => row.some((width) => width !== 0)) ? op.emit('Pad', [x, op.int64(pads)], { mode: 'constant' })[0]! : x.name();
  const split = [0, ...padded.flatMap((size, axis) => [size / block[axis]!, block[axis]!]), ...trailing];
  const blockAxes = block.map((_, axis) => 2 + 2 * axis);
  const perm = [...blockAxes, 0, ...block.map((_, axis) => 1 + 2 * axis), ...trailing.map((_, index) => 1 + 2 * block.length + index)];
  const cut = op.emit('Reshape', [input, op.int64(split)])[0]!;
  const moved = op.emit('Transpose', [cut], { perm })[0]!;
  const blocks = block.reduce((product, size) => product * size, 1);
  const outShape = [-1, ...padded.map((size, axis) => size / block[axis]!), ...trailing];
  const batch = x.shape![0];
  return [op.emitValue('Reshape', [moved, op.int64(outShape)], x.dtype, [typeof batch === 'number' ? batch * blocks : null, ...outShape.slice(1)])];
};

/** BatchToSpaceND, the inverse: unfold the block axes out of the batch, interleave them with space, crop. */
const batchToSpace: TfOpConverter = (op) => {
  const x = op.input(0);
  const { block, spatial, trailing, rows } = blockLayout(op, x, 'crops');
  const count = block.length;
  const unfolded = op.emit('Reshape', [x, op.int64([...block, -1, ...spatial, ...trailing])])[0]!;
  const perm = [count, ...block.flatMap((_, axis) => [count + 1 + axis, axis]), ...trailing.map((_, index) => 2 * count + 1 + index)];
  const moved = op.emit('Transpose', [unfolded], { perm })[0]!;
  const full = spatial.map((size, axis) => size * block[axis]!);
  const joined = op.emit('Reshape', [moved, op.int64([-1, ...full, ...trailing])])[0]!;
  const cropped = full.map((size, axis) => size - rows[axis]![0]! - rows[axis]![1]!);
  const batch = x.shape![0];
  const blocks = block.reduce((product, size) => product * size, 1);
  const shape = [typeof batch === 'number' ? batch / blocks : null, ...cropped, ...trailing];
  if (rows.every((row) => row.every((width) => width === 0))) return [{ dtype: x.dtype, shape, name: () => joined }];
  const axes = block.map((_, axis) => axis + 1);
  const starts = rows.map((row) => row[0]!);
  const ends = full.map((size, axis) => size - rows[axis]![1]!);
  return [op.emitValue('Slice', [joined, op.int64(starts), op.int64(ends), op.int64(axes)], x.dtype, shape)];
};

export const RESHAPING_OPS: Record<string, TfOpConverter> = {
  SpaceToBatchND: spaceToBatch,
  BatchToSpaceND: batchToSpace,
  Reshape: reshape,
  Transpose: transpose,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  BroadcastTo: broadcastTo,
  DepthToSpace: depthToSpace,
};
