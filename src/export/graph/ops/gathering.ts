import { ONNX_TYPE } from '../../../onnx/data-types.js';
import type { GraphValue, Shape } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';
import { broadcastShapes, normalizeAxis } from '../shapes.js';

/** Indexing ops: Gather (embeddings), GatherNd, Where (indices of true elements), Select/SelectV2. */

function gatherValue(op: OpConversion, x: GraphValue, indices: GraphValue, axis: number): GraphValue {
  let shape: Shape;
  if (x.shape !== undefined && indices.shape !== undefined) {
    const at = normalizeAxis(axis, x.shape.length);
    shape = [...x.shape.slice(0, at), ...indices.shape, ...x.shape.slice(at + 1)];
  }
  return op.emitValue('Gather', [x, indices], x.dtype, shape, { axis });
}

const gatherV2: TfOpConverter = (op) => {
  if (op.attrs.int('batch_dims', 0) !== 0) op.fail('GatherV2 batch_dims', `${op.attrs.int('batch_dims', 0)} (only 0 is supported)`);
  const [axis] = op.constantInts(2, 'axis');
  return [gatherValue(op, op.input(0), op.input(1), axis!)];
};

const gatherNd: TfOpConverter = (op) => {
  const [x, indices] = [op.input(0), op.input(1)];
  const depth = indices.shape?.[indices.shape.length - 1];
  const shape = x.shape !== undefined && indices.shape !== undefined && typeof depth === 'number' ? [...indices.shape.slice(0, -1), ...x.shape.slice(depth)] : undefined;
  const indices64 = op.emit('Cast', [indices], { to: ONNX_TYPE.INT64! })[0]!;
  return [op.emitValue('GatherND', [x, indices64], x.dtype, shape)];
};

/** Where with one input: the coordinates of the true (non-zero) elements, one row each; int32 in tfjs. */
const whereIndices: TfOpConverter = (op) => {
  const x = op.input(0);
  const coordinates = op.emit('NonZero', [x])[0]!;
  const rows = op.emit('Transpose', [coordinates], { perm: [1, 0] })[0]!;
  return [op.emitValue('Cast', [rows], 'int32', [null, x.shape?.length ?? null], { to: ONNX_TYPE.INT32! })];
};

function select(op: OpConversion, condition: GraphValue, a: GraphValue, b: GraphValue): GraphValue {
  return op.emitValue('Where', [condition, a, b], a.dtype, broadcastShapes(condition.shape, a.shape, b.shape));
}

export const GATHERING_OPS: Record<string, TfOpConverter> = {
  GatherV2: gatherV2,
  Gather: (op) => [gatherValue(op, op.input(0), op.input(1), 0)],
  GatherNd: gatherNd,
  Where: whereIndices,
  // TF's Select (v1) also takes a vector condition picking whole rows; tfjs runs both as broadcasting where.
  Select: (op) => [select(op, op.input(0), op.input(1), op.input(2))],
  SelectV2: (op) => [select(op, op.input(0), op.input(1), op.input(2))],
};
