import type { OnnxGraphEmitter } from '../onnx-emitter.js';
import { clip, scalar } from './common-ops.js';

/**
 * Every activation string tfjs-layers knows (activations.ts), as ONNX. tfjs writes camelCase class names
 * (`hardSigmoid`) and Keras snake_case (`hard_sigmoid`); both are looked up under the snake_case key.
 * Formulas follow tfjs's own, not Keras's where they differ: gelu is the erf form, hard_sigmoid is
 * clip(0.2x + 0.5, 0, 1), selu uses tfjs's alpha and scale.
 */
type ActivationEmitter = (emitter: OnnxGraphEmitter, input: string, hint: string) => string;

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

export const ACTIVATIONS: Record<string, ActivationEmitter> = {
  linear: (_emitter, input) => input,
  relu: (emitter, input, hint) => emitter.op('Relu', [input], {}, hint),
  relu6: (emitter, input, hint) => clip(emitter, input, 0, 6, hint),
  elu: (emitter, input, hint) => emitter.op('Elu', [input], { alpha: { float: 1 } }, hint),
  selu: (emitter, input, hint) => emitter.op('Selu', [input], { alpha: SELU_ALPHA, gamma: SELU_SCALE }, hint),
  sigmoid: (emitter, input, hint) => emitter.op('Sigmoid', [input], {}, hint),
  hard_sigmoid: (emitter, input, hint) => emitter.op('HardSigmoid', [input], { alpha: 0.2, beta: 0.5 }, hint),
  tanh: (emitter, input, hint) => emitter.op('Tanh', [input], {}, hint),
  softmax: (emitter, input, hint) => emitter.op('Softmax', [input], { axis: -1 }, hint),
  log_softmax: (emitter, input, hint) => emitter.op('LogSoftmax', [input], { axis: -1 }, hint),
  softplus: (emitter, input, hint) => emitter.op('Softplus', [input], {}, hint),
  softsign: (emitter, input, hint) => emitter.op('Softsign', [input], {}, hint),
  swish: (emitter, input, hint) => emitter.op('Mul', [input, emitter.op('Sigmoid', [input], {}, `${hint}_sigmoid`)], {}, hint),
  mish: (emitter, input, hint) => {
    const softplus = emitter.op('Softplus', [input], {}, `${hint}_softplus`);
    return emitter.op('Mul', [input, emitter.op('Tanh', [softplus], {}, `${hint}_tanh`)], {}, hint);
  },
  // x * 0.5 * (1 + erf(x / sqrt(2))): tfjs's Gelu class.
  gelu: (emitter, input, hint) => {
    const scaled = emitter.op('Div', [input, scalar(emitter, `${hint}_sqrt2`, Math.SQRT2)], {}, `${hint}_scaled`);
    const erf = emitter.op('Erf', [scaled], {}, `${hint}_erf`);
    const cdf = emitter.op('Mul', [emitter.op('Add', [erf, scalar(emitter, `${hint}_one`, 1)], {}, `${hint}_plus1`), scalar(emitter, `${hint}_half`, 0.5)], {}, `${hint}_cdf`);
    return emitter.op('Mul', [input, cdf], {}, hint);
  },
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): tfjs's GeluNew class.
  gelu_new: (emitter, input, hint) => {
    const cube = emitter.op('Mul', [input, emitter.op('Mul', [input, input], {}, `${hint}_square`)], {}, `${hint}_cube`);
    const inner = emitter.op('Add', [input, emitter.op('Mul', [cube, scalar(emitter, `${hint}_c`, 0.044715)], {}, `${hint}_cubic`)], {}, `${hint}_inner`);
    const tanh = emitter.op('Tanh', [emitter.op('Mul', [inner, scalar(emitter, `${hint}_k`, Math.sqrt(2 / Math.PI))], {}, `${hint}_arg`)], {}, `${hint}_tanh`);
    const half = emitter.op('Mul', [input, scalar(emitter, `${hint}_half`, 0.5)], {}, `${hint}_halfx`);
    return emitter.op('Mul', [half, emitter.op('Add', [tanh, scalar(emitter, `${hint}_one`, 1)], {}, `${hint}_plus1`)], {}, hint);
  },
};

/** `hardSigmoid` -> `hard_sigmoid`; null or absent is linear, as in Keras. */
export function activationKey(name: unknown): string {
  if (name === null || name === undefined) return 'linear';
  if (typeof name === 'object') return activationKey((name as { class_name?: unknown }).class_name);
  return String(name).replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export function isSupportedActivation(name: unknown): boolean {
  return activationKey(name) in ACTIVATIONS;
}

export function applyActivation(emitter: OnnxGraphEmitter, input: string, name: unknown, hint: string): string {
  const activation = ACTIVATIONS[activationKey(name)];
  if (!activation) throw new Error(`activation ${String(name)} passed the support check but has no converter`);
  return activation(emitter, input, hint);
}
