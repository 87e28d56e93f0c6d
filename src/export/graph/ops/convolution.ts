import { isStaticShape, type GraphValue } from '../graph-value.js';
import { requireChannelsLast, spatialWindow, toChannelsFirst, toChannelsLast } from '../layout.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';
import { transposeValues } from '../shapes.js';
import { activationNamed } from './activations.js';
import { batchNormChannelsFirst } from './normalization.js';

/**
 * Conv2D and DepthwiseConv2dNative, plain and fused (tfjs-converter's _FusedConv2D and
 * FusedDepthwiseConv2dNative: fused_ops = [BiasAdd | FusedBatchNorm, activation?], their extra inputs in
 * `num_args`). Filters are HWIO in TF; ONNX wants OIHW, and a depthwise filter [H, W, C, M] becomes a
 * grouped conv with C groups and weight [C*M, 1, H, W]. Also the transposed conv, Conv2DBackpropInput.
 */

interface OnnxFilter {
  weight: GraphValue;
  outputChannels: number;
  kernel: [number, number];
  group: number;
}

function onnxFilter(op: OpConversion, depthwise: boolean): OnnxFilter {
  const filter = op.input(1);
  if (!isStaticShape(filter.shape) || filter.shape.length !== 4) {
    op.fail(`${op.node.op} filter`, 'the filter shape must be known and 4-D (HWIO)');
  }
  const [height, width, inputChannels, multiplier] = filter.shape;
  const perm = depthwise ? [2, 3, 0, 1] : [3, 2, 0, 1];
  const shape = depthwise ? [inputChannels! * multiplier!, 1, height!, width!] : [multiplier!, inputChannels!, height!, width!];
  let weight: GraphValue;
  if (filter.constant !== undefined) {
    weight = op.constantValue(transposeValues(filter.constant, filter.shape, perm), shape, filter.dtype, `${op.node.name}/weight`);
  } else {
    const transposed = op.emitValue('Transpose', [filter], filter.dtype, perm.map((axis) => filter.shape![axis]!), { perm });
    weight = depthwise ? op.emitValue('Reshape', [transposed, op.int64(shape)], filter.dtype, shape) : transposed;
  }
  return {
    weight,
    outputChannels: shape[0]!,
    kernel: [height!, width!],
    group: depthwise ? inputChannels! : 1,
  };
}

interface FusedTail {
  bias?: GraphValue;
  batchNorm?: Parameters<typeof batchNormChannelsFirst>[2];
  activation?: string;
  /** Prelu's slopes (the argument after the bias). */
  slopes?: GraphValue;
}

/** fused_ops: what tfjs's fused kernels accept, fused_ops[0] the extra op and fused_ops[1] the activation. */
export function fusedTail(op: OpConversion, firstArgument: number): FusedTail {
  const fusedOps = op.attrs.strings('fused_ops', []);
  const args = op.inputs.slice(firstArgument, firstArgument + op.attrs.int('num_args', op.inputs.length - firstArgument));
  const [extra, activation, ...rest] = fusedOps;
  const tail: FusedTail = {};
  if (rest.length > 0) op.fail(`${op.node.op} fused_ops`, `${fusedOps.join(',')}: at most an extra op and an activation`);
  let nextArgument = 0;
  if (extra === undefined) return tail;
  if (extra.toLowerCase() === 'biasadd') {
    tail.bias = args[nextArgument++];
  } else if (extra.toLowerCase() === 'fusedbatchnorm') {
    const [scale, offset, mean, variance] = args;
    if (variance === undefined) op.fail(`${op.node.op} fused_ops`, 'FusedBatchNorm needs scale, offset, mean and variance arguments');
    tail.batchNorm = { scale: scale!, offset: offset!, mean: mean!, variance, epsilon: op.attrs.float('epsilon', 0.0001) };
    nextArgument = 4;
  } else {
    op.fail(`${op.node.op} fused_ops`, `${extra} as the first fused op (expected BiasAdd or FusedBatchNorm)`);
  }
  if (activation !== undefined) {
    if (activationNamed(activation) === undefined) op.fail(`${op.node.op} fused_ops`, `activation ${activation} is not supported`);
    tail.activation = activation;
    if (activation.toLowerCase() === 'prelu') tail.slopes = args[nextArgument];
  }
  return tail;
}

function convolution(depthwise: boolean, fused: boolean): TfOpConverter {
  return (op) => {
    requireChannelsLast(op);
    const x = op.input(0);
    const { weight, outputChannels, kernel, group } = onnxFilter(op, depthwise);
    const window = spatialWindow(op);
    const tail: FusedTail = fused ? fusedTail(op, 2) : {};
    const [batch, height, width] = x.shape ?? [null, null, null];
    const [outHeight, outWidth] = window.outputSize([height ?? null, width ?? null], kernel);
    const inputs = [toChannelsFirst(op, x), weight, ...(tail.bias ? [tail.bias] : [])];
    const attributes = { ...window.attributes, kernel_shape: kernel, ...(group > 1 ? { group } : {}) };
    let y = op.emitValue('Conv', inputs, x.dtype, [batch ?? null, outputChannels, outHeight, outWidth], attributes);
    if (tail.batchNorm) y = batchNormChannelsFirst(op, y, tail.batchNorm);
    const activation = tail.activation === undefined ? undefined : activationNamed(tail.activation)!;
    const alpha = op.attrs.float('leakyrelu_alpha', 0.2);
    // Per-channel Prelu slopes broadcast channels-last, so Prelu waits for the layout change; the other
    // activations stay next to the Conv, where onnxruntime fuses them.
    if (activation && tail.slopes === undefined) y = activation(op, y, { alpha });
    y = toChannelsLast(op, y);
    if (activation && tail.slopes !== undefined) y = activation(op, y, { alpha, slopes: tail.slopes });
    return [y];
  };
}

/**
 * Conv2DBackpropInput, the transposed conv: input_sizes (the NHWC result shape), filter [h, w, out, in] and
 * the input. ONNX ConvTranspose wants weight [in, out, h, w] and explicit pads: TF crops what the matching
 * forward conv would have padded (SAME: the odd pixel at the end), and rows the strides cannot reach come
 * back as output_padding.
 */
const convolutionTranspose: TfOpConverter = (op) => {
  requireChannelsLast(op);
  const resultSizes = op.constantInts(0, 'input_sizes');
  const filter = op.input(1);
  const x = op.input(2);
  if (!isStaticShape(filter.shape) || filter.shape.length !== 4) return op.fail('Conv2DBackpropInput filter', 'the filter shape must be known and 4-D');
  const [height, width, outputChannels, inputChannels] = filter.shape;
  const spatial = [x.shape?.[1], x.shape?.[2]];
  if (!spatial.every((size) => typeof size === 'number')) op.fail('Conv2DBackpropInput input', 'the input height and width must be known');
  const perm = [3, 2, 0, 1];
  const weightShape = [inputChannels!, outputChannels!, height!, width!];
  const weight =
    filter.constant !== undefined
      ? op.constantValue(transposeValues(filter.constant, filter.shape, perm), weightShape, filter.dtype, `${op.node.name}/weight`)
      : op.emitValue('Transpose', [filter], filter.dtype, weightShape, { perm });
  const strides = op.attrs.ints('strides', [1, 1, 1, 1]);
  const dilations = op.attrs.ints('dilations', [1, 1, 1, 1]);
  const padding = op.attrs.string('padding', 'VALID').toUpperCase();
  const explicit = op.attrs.ints('explicit_paddings', []);
  const kernel = [height!, width!];
  const before: number[] = [];
  const after: number[] = [];
  const outputPadding: number[] = [];
  for (const axis of [0, 1]) {
    const stride = strides[axis + 1] ?? 1;
    const span = (kernel[axis]! - 1) * (dilations[axis + 1] ?? 1) + 1;
    const inputSize = spatial[axis] as number;
    const resultSize = resultSizes[axis + 1]!;
    const full = (inputSize - 1) * stride + span;
    if (padding === 'SAME') {
      const total = Math.max(full - resultSize, 0);
      before.push(Math.floor(total / 2));
      after.push(total - Math.floor(total / 2));
    } else if (padding === 'VALID') {
      before.push(0);
      after.push(0);
    } else if (padding === 'EXPLICIT' && explicit.length === 8) {
      before.push(explicit[2 + 2 * axis]!);
      after.push(explicit[3 + 2 * axis]!);
    } else op.fail('Conv2DBackpropInput padding', `${padding} is not a TF padding mode`);
    outputPadding.push(resultSize - (full - before[axis]! - after[axis]!));
    if (outputPadding[axis]! < 0 || outputPadding[axis]! >= stride) {
      op.fail('Conv2DBackpropInput input_sizes', `${resultSizes.join('x')} does not follow from the input size, strides and padding`);
    }
  }
  const attributes: Record<string, number[]> = { strides: [strides[1] ?? 1, strides[2] ?? 1], kernel_shape: kernel, pads: [...before, ...after] };
  if (dilations.some((size) => size !== 1)) attributes.dilations = [dilations[1] ?? 1, dilations[2] ?? 1];
  if (outputPadding.some((size) => size !== 0)) attributes.output_padding = outputPadding;
  const y = op.emitValue('ConvTranspose', [toChannelsFirst(op, x), weight], x.dtype, [x.shape?.[0] ?? null, outputChannels!, resultSizes[1]!, resultSizes[2]!], attributes);
  return [toChannelsLast(op, y)];
};

export const CONVOLUTION_OPS: Record<string, TfOpConverter> = {
  Conv2D: convolution(false, false),
  DepthwiseConv2dNative: convolution(true, false),
  DepthwiseConv2d: convolution(true, false),
  _FusedConv2D: convolution(false, true),
  FusedDepthwiseConv2dNative: convolution(true, true),
  Conv2DBackpropInput: convolutionTranspose,
};
