import type { GraphValue } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';

/**
 * TF activations, keyed by TF op name: used as ops of their own and as the activation that _FusedConv2D,
 * FusedDepthwiseConv2dNative and _FusedMatMul apply after their BiasAdd (fused_ops[1]).
 */
export interface ActivationParameters {
  /** LeakyRelu's negative slope (attr `alpha` of LeakyRelu, `leakyrelu_alpha` of the fused ops). */
  alpha: number;
  /** Prelu's learned slopes. */
  slopes?: GraphValue;
}

type ActivationEmitter = (op: OpConversion, x: GraphValue, parameters: ActivationParameters) => GraphValue;

function unary(onnxOp: string): ActivationEmitter {
  return (op, x) => op.emitValue(onnxOp, [x], x.dtype, x.shape);
}

export const ACTIVATIONS: Record<string, ActivationEmitter> = {
  Relu: unary('Relu'),
  Relu6: (op, x) => {
    const bounds = [0, 6].map((bound) => op.constantValue(Float32Array.of(bound), [], 'float32', `${op.node.name}/relu6_bound`));
    return op.emitValue('Clip', [x, ...bounds], x.dtype, x.shape);
  },
  // TF's elu and selu use ONNX's default alpha (and gamma): 1, and 1.6732632/1.0507010.
  Elu: unary('Elu'),
  Selu: unary('Selu'),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Softplus: unary('Softplus'),
  LeakyRelu: (op, x, { alpha }) => op.emitValue('LeakyRelu', [x], x.dtype, x.shape, { alpha }),
  Prelu: (op, x, { slopes }) => {
    if (slopes === undefined) return op.fail('Prelu alpha', 'missing slope input');
    return op.emitValue('PRelu', [x, slopes], x.dtype, x.shape);
  },
};

/** fused_ops names as written (e.g. "Relu6"), matched the way tfjs matches them: case-insensitively. */
export function activationNamed(name: string): ActivationEmitter | undefined {
  const key = Object.keys(ACTIVATIONS).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : ACTIVATIONS[key];
}

function activationOp(name: string): TfOpConverter {
  return (op) => [ACTIVATIONS[name]!(op, op.input(0), { alpha: op.attrs.float('alpha', 0.2), slopes: op.inputs[1] })];
}

/** Softmax and LogSoftmax work on the last axis in TF; ONNX (opset >= 13) takes the axis as given. */
function lastAxis(onnxOp: string): TfOpConverter {
  return (op) => [op.emitValue(onnxOp, [op.input(0)], op.input(0).dtype, op.input(0).shape, { axis: -1 })];
}

export const ACTIVATION_OPS: Record<string, TfOpConverter> = {
  ...Object.fromEntries(Object.keys(ACTIVATIONS).map((name) => [name, activationOp(name)])),
  Softmax: lastAxis('Softmax'),
  LogSoftmax: lastAxis('LogSoftmax'),
};
