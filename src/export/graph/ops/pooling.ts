import { requireChannelsLast, spatialWindow, toChannelsFirst, toChannelsLast } from '../layout.js';
import type { TfOpConverter } from '../op-conversion.js';

/**
 * MaxPool and AvgPool (ksize and strides as NHWC lists). TF's SAME average leaves padded cells out of the
 * count, as ONNX AveragePool does by default (count_include_pad = 0).
 */
function pool(onnxOp: string): TfOpConverter {
  return (op) => {
    requireChannelsLast(op);
    const x = op.input(0);
    const ksize = op.attrs.ints('ksize', [1, 1, 1, 1]);
    if (ksize[0] !== 1 || ksize[3] !== 1) op.fail(`${op.node.op} ksize`, `pooling across batch or channels (${ksize.join(',')}) is not supported`);
    const kernel: [number, number] = [ksize[1]!, ksize[2]!];
    const window = spatialWindow(op);
    const [batch, height, width, channels] = x.shape ?? [null, null, null, null];
    const [outHeight, outWidth] = window.outputSize([height ?? null, width ?? null], kernel);
    const pooled = op.emitValue(onnxOp, [toChannelsFirst(op, x)], x.dtype, [batch ?? null, channels ?? null, outHeight, outWidth], {
      ...window.attributes,
      kernel_shape: kernel,
    });
    return [toChannelsLast(op, pooled)];
  };
}

export const POOLING_OPS: Record<string, TfOpConverter> = {
  MaxPool: pool('MaxPool'),
  AvgPool: pool('AveragePool'),
};
