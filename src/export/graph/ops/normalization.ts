import type { GraphValue } from '../graph-value.js';
import { requireChannelsLast, toChannelsFirst, toChannelsLast } from '../layout.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';
import { broadcastShapes } from '../shapes.js';

/** BiasAdd, inference-mode batch norm (FusedBatchNorm, V2, V3: tfjs uses the given mean and variance) and LRN. */

export interface BatchNormParameters {
  scale: GraphValue;
  offset: GraphValue;
  mean: GraphValue;
  variance: GraphValue;
  epsilon: number;
}

/** ONNX BatchNormalization on a channels-first value (the fused conv emits it between Conv and its Transpose). */
export function batchNormChannelsFirst(op: OpConversion, x: GraphValue, parameters: BatchNormParameters): GraphValue {
  const { scale, offset, mean, variance, epsilon } = parameters;
  return op.emitValue('BatchNormalization', [x, scale, offset, mean, variance], x.dtype, x.shape, { epsilon });
}

/** Channels-last batch norm of any rank as y = (x - mean) * scale / sqrt(variance + epsilon) + offset. */
function batchNormChannelsLast(op: OpConversion, x: GraphValue, parameters: BatchNormParameters): GraphValue {
  const { scale, offset, mean, variance, epsilon } = parameters;
  const epsilonValue = op.constantValue(Float32Array.of(epsilon), [], 'float32', `${op.node.name}/epsilon`);
  const deviation = op.emitValue('Sqrt', [op.emitValue('Add', [variance, epsilonValue], 'float32', variance.shape)], 'float32', variance.shape);
  const factor = op.emitValue('Div', [scale, deviation], 'float32', scale.shape);
  const centered = op.emitValue('Sub', [x, mean], x.dtype, broadcastShapes(x.shape, mean.shape));
  const scaled = op.emitValue('Mul', [centered, factor], x.dtype, centered.shape);
  return op.emitValue('Add', [scaled, offset], x.dtype, scaled.shape);
}

const fusedBatchNorm: TfOpConverter = (op) => {
  requireChannelsLast(op);
  const x = op.input(0);
  const parameters: BatchNormParameters = {
    scale: op.input(1),
    offset: op.input(2),
    mean: op.input(3),
    variance: op.input(4),
    epsilon: op.attrs.float('epsilon', 0.001),
  };
  if (x.shape?.length === 4) return [toChannelsLast(op, batchNormChannelsFirst(op, toChannelsFirst(op, x), parameters))];
  return [batchNormChannelsLast(op, x, parameters)];
};

/**
 * LRN across channels. TF sums squares over depth_radius channels either side and scales by alpha; ONNX
 * takes the window size 2r+1 and divides alpha by it, so alpha is multiplied back.
 */
const localResponseNormalization: TfOpConverter = (op) => {
  const x = op.input(0);
  const size = 2 * op.attrs.int('depth_radius', 5) + 1;
  const attributes = { size, alpha: op.attrs.float('alpha', 1) * size, beta: op.attrs.float('beta', 0.5), bias: op.attrs.float('bias', 1) };
  const channelsFirst = toChannelsFirst(op, x);
  return [toChannelsLast(op, op.emitValue('LRN', [channelsFirst], x.dtype, channelsFirst.shape, attributes))];
};

export const NORMALIZATION_OPS: Record<string, TfOpConverter> = {
  LRN: localResponseNormalization,
  BiasAdd: (op) => {
    requireChannelsLast(op);
    return [op.emitValue('Add', [op.input(0), op.input(1)], op.input(0).dtype, broadcastShapes(op.input(0).shape, op.input(1).shape))];
  },
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV2: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
};
