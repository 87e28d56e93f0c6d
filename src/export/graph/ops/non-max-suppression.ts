import { ONNX_TYPE } from '../../../onnx/data-types.js';
import type { GraphValue } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';

/**
 * NonMaxSuppressionV2..V5 as ONNX NonMaxSuppression: one batch and one class, boxes as corner pairs
 * [y1, x1, y2, x2] (center_point_box 0), suppression above the IoU threshold, kept in descending score
 * order. ONNX returns (batch, class, box) rows in int64; TF the box indices in int32. Soft-NMS (V5 with
 * a sigma other than 0) rescales scores instead of dropping boxes and has no ONNX counterpart.
 */
function selectedIndices(op: OpConversion, withScoreThreshold: boolean): GraphValue {
  const [boxes, scores, maxOutput, iouThreshold] = [op.input(0), op.input(1), op.input(2), op.input(3)];
  const asVector = (value: GraphValue) => op.emit('Reshape', [value, op.int64([1])])[0]!;
  const inputs = [
    op.emit('Unsqueeze', [boxes, op.int64([0])])[0]!,
    op.emit('Unsqueeze', [scores, op.int64([0, 1])])[0]!,
    asVector({ dtype: 'int32', shape: [], name: () => op.toInt64(maxOutput) }),
    asVector(iouThreshold),
    ...(withScoreThreshold ? [asVector(op.input(4))] : []),
  ];
  const rows = op.emit('NonMaxSuppression', inputs, { center_point_box: 0 })[0]!;
  const boxColumn = op.emit('Gather', [rows, op.int64([2], true)], { axis: 1 })[0]!;
  return op.emitValue('Cast', [boxColumn], 'int32', [null], { to: ONNX_TYPE.INT32! });
}

/** How many boxes were kept, as an int32 scalar. */
function countOf(op: OpConversion, indices: GraphValue): GraphValue {
  return op.emitValue('Cast', [op.emit('Size', [indices])[0]!], 'int32', [], { to: ONNX_TYPE.INT32! });
}

/** pad_to_max_output_size: zeros after the kept entries, up to max_output_size. */
function padded(op: OpConversion, value: GraphValue): GraphValue {
  const missing = op.emit('Sub', [op.emit('Reshape', [op.toInt64(op.input(2)), op.int64([1])])[0]!, op.emit('Shape', [value])[0]!])[0]!;
  const pads = op.emit('Concat', [op.int64([0]), missing], { axis: 0 })[0]!;
  const length = op.input(2).constant?.[0];
  return op.emitValue('Pad', [value, pads], value.dtype, [length ?? null], { mode: 'constant' });
}

const v3: TfOpConverter = (op) => [selectedIndices(op, op.inputs.length > 4)];

const v4: TfOpConverter = (op) => {
  const indices = selectedIndices(op, true);
  const count = countOf(op, indices);
  return [op.attrs.bool('pad_to_max_output_size', false) ? padded(op, indices) : indices, count];
};

const v5: TfOpConverter = (op) => {
  const sigma = op.input(5).constant;
  if (sigma === undefined || sigma[0] !== 0) op.fail('NonMaxSuppressionV5 soft_nms_sigma', 'soft-NMS (a sigma other than a constant 0) has no ONNX equivalent');
  const indices = selectedIndices(op, true);
  const scores = op.emitValue('Gather', [op.input(1), indices], 'float32', [null], { axis: 0 });
  const count = countOf(op, indices);
  if (!op.attrs.bool('pad_to_max_output_size', false)) return [indices, scores, count];
  return [padded(op, indices), padded(op, scores), count];
};

export const NON_MAX_SUPPRESSION_OPS: Record<string, TfOpConverter> = {
  NonMaxSuppressionV2: v3,
  NonMaxSuppressionV3: v3,
  NonMaxSuppressionV4: v4,
  NonMaxSuppressionV5: v5,
};
