import type { Dim, GraphValue } from './graph-value.js';
import type { OpConversion } from './op-conversion.js';
import { NCHW_TO_NHWC, NHWC_TO_NCHW, transposeShape } from './shapes.js';

/**
 * TF.js runs convolutions, pooling and batch norm channels-last (NHWC); their ONNX ops are channels-first.
 * Each such op is wrapped in its own pair of Transposes; the export's layout pass cancels the back-to-back
 * pairs this leaves between consecutive ops.
 */

/** TF.js executes only NHWC; a graph asking for another layout could not have run in TF.js either. */
export function requireChannelsLast(op: OpConversion): void {
  const format = op.attrs.string('data_format', 'NHWC').toUpperCase();
  if (format !== 'NHWC') op.fail(`${op.node.op} data_format`, `${format} is not supported (TF.js runs NHWC only)`);
}

export function toChannelsFirst(op: OpConversion, x: GraphValue): GraphValue {
  return op.emitValue('Transpose', [x], x.dtype, transposeShape(x.shape ?? [null, null, null, null], NHWC_TO_NCHW), { perm: NHWC_TO_NCHW });
}

export function toChannelsLast(op: OpConversion, x: GraphValue): GraphValue {
  return op.emitValue('Transpose', [x], x.dtype, transposeShape(x.shape ?? [null, null, null, null], NCHW_TO_NHWC), { perm: NCHW_TO_NHWC });
}

export interface SpatialWindow {
  /** ONNX attributes: strides, dilations, and auto_pad or pads. */
  attributes: Record<string, number[] | string>;
  /** Output height and width for input height and width (null when unknown). */
  outputSize(input: [Dim, Dim], kernel: [number, number]): [Dim, Dim];
}

/**
 * strides/dilations (NHWC lists) and padding of a TF conv or pool. TF's SAME puts the odd padding pixel at
 * the bottom/right, which is ONNX's SAME_UPPER; EXPLICIT lists NHWC (before, after) pairs.
 */
export function spatialWindow(op: OpConversion, strideAttribute = 'strides'): SpatialWindow {
  const strides = op.attrs.ints(strideAttribute, [1, 1, 1, 1]);
  const dilations = op.attrs.ints('dilations', [1, 1, 1, 1]);
  const stride: [number, number] = [strides[1] ?? 1, strides[2] ?? 1];
  const dilation: [number, number] = [dilations[1] ?? 1, dilations[2] ?? 1];
  const padding = op.attrs.string('padding', 'VALID').toUpperCase();
  const attributes: Record<string, number[] | string> = { strides: stride };
  if (dilation.some((size) => size !== 1)) attributes.dilations = dilation;
  let pads = [0, 0, 0, 0];
  if (padding === 'SAME') attributes.auto_pad = 'SAME_UPPER';
  else if (padding === 'VALID') attributes.pads = pads;
  else if (padding === 'EXPLICIT') {
    const explicit = op.attrs.ints('explicit_paddings', []);
    if (explicit.length !== 8) op.fail(`${op.node.op} explicit_paddings`, `expected 8 values (NHWC before/after pairs), got ${explicit.length}`);
    pads = [explicit[2]!, explicit[4]!, explicit[3]!, explicit[5]!];
    attributes.pads = pads;
  } else op.fail(`${op.node.op} padding`, `${padding} is not a TF padding mode`);

  const outputSize = (input: [Dim, Dim], kernel: [number, number]): [Dim, Dim] =>
    [0, 1].map((axis) => {
      const size = input[axis];
      if (typeof size !== 'number') return null;
      if (padding === 'SAME') return Math.ceil(size / stride[axis]!);
      const span = (kernel[axis]! - 1) * dilation[axis]! + 1;
      return Math.floor((size + pads[axis]! + pads[axis + 2]! - span) / stride[axis]!) + 1;
    }) as [Dim, Dim];
  return { attributes, outputSize };
}
