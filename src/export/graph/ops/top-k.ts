import { ONNX_TYPE } from '../../../onnx/data-types.js';
import type { TfOpConverter } from '../op-conversion.js';

/**
 * TopKV2: the k largest values along the last axis and their indices, sorted, ties to the lower index (as
 * ONNX TopK specifies). tfjs returns int32 indices; ONNX int64.
 */
const topK: TfOpConverter = (op) => {
  const x = op.input(0);
  const k = op.input(1);
  const kValue = k.constant?.[0];
  const shape = x.shape?.map((dim, axis) => (axis === x.shape!.length - 1 ? (kValue ?? null) : dim));
  const kInput = k.constant !== undefined ? op.int64([Number(kValue)]) : op.emit('Reshape', [op.toInt64(k), op.int64([1])])[0]!;
  const [values, indices] = op.emit('TopK', [x, kInput], { axis: -1, largest: 1, sorted: 1 }, 2);
  return [
    { dtype: x.dtype, shape, name: () => values! },
    op.emitValue('Cast', [indices!], 'int32', shape, { to: ONNX_TYPE.INT32! }),
  ];
};

export const TOP_K_OPS: Record<string, TfOpConverter> = {
  TopKV2: topK,
};
