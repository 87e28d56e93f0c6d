import type { AttributeValue } from '../../onnx/builders.js';
import { activationKey } from './activations.js';
import { reduce } from './common-ops.js';
import { configBoolean, type KerasValue, type LayerConverter, type LayerEmitContext, type UnsupportedSetting } from './layer-converter.js';
import type { LayerWeights } from './layer-weights.js';

/**
 * LSTM, GRU and SimpleRNN as ONNX's LSTM, GRU and RNN operators, and Bidirectional around them as the
 * operators' bidirectional direction. Keras is batch-major ([batch, time, features]), the ONNX operators
 * time-major; Keras stores kernels [features, gates*units] with its own gate order, ONNX [gates*units,
 * features] per direction with its own.
 */

interface RecurrentCell {
  op: 'LSTM' | 'GRU' | 'RNN';
  gates: number;
  /** For each ONNX gate block, the Keras block it comes from. LSTM: Keras i,f,c,o -> ONNX i,o,f,c. */
  gateOrder: number[];
  /** Keras activation settings for the operator's activation slots, in ONNX order (f, g, h). */
  activationKeys: string[];
  defaults: Record<string, string>;
  attributes(config: Record<string, unknown>): Record<string, AttributeValue>;
  /** Input and recurrent biases, each [gates*units] in Keras gate order. */
  biases(weights: LayerWeights, config: Record<string, unknown>, size: number): [Float32Array, Float32Array];
}

function kerasBias(weights: LayerWeights, config: Record<string, unknown>, size: number): Float32Array {
  return configBoolean(config, 'use_bias', true) ? weights.get('bias').values : new Float32Array(size);
}

/** tfjs's recurrent defaults: hard_sigmoid gates, tanh cell. */
const RECURRENT_CELLS: Record<string, RecurrentCell> = {
  LSTM: {
    op: 'LSTM',
    gates: 4,
    gateOrder: [0, 3, 1, 2],
    activationKeys: ['recurrent_activation', 'activation', 'activation'],
    defaults: { activation: 'tanh', recurrent_activation: 'hard_sigmoid' },
    attributes: () => ({}),
    biases: (weights, config, size) => [kerasBias(weights, config, size), new Float32Array(size)],
  },
  // Keras and ONNX both order GRU gates z, r, h; reset_after is ONNX's linear_before_reset.
  GRU: {
    op: 'GRU',
    gates: 3,
    gateOrder: [0, 1, 2],
    activationKeys: ['recurrent_activation', 'activation'],
    defaults: { activation: 'tanh', recurrent_activation: 'hard_sigmoid' },
    attributes: (config) => ({ linear_before_reset: configBoolean(config, 'reset_after', false) ? 1 : 0 }),
    biases: (weights, config, size) => {
      if (!configBoolean(config, 'reset_after', false)) return [kerasBias(weights, config, size), new Float32Array(size)];
      // reset_after stores [2, gates*units]: the input bias, then the recurrent one.
      const both = configBoolean(config, 'use_bias', true) ? weights.get('bias').values : new Float32Array(2 * size);
      return [both.slice(0, size), both.slice(size)];
    },
  },
  SimpleRNN: {
    op: 'RNN',
    gates: 1,
    gateOrder: [0],
    activationKeys: ['activation'],
    defaults: { activation: 'tanh' },
    attributes: () => ({}),
    biases: (weights, config, size) => [kerasBias(weights, config, size), new Float32Array(size)],
  },
};

/** Activations the ONNX recurrent operators take, with their alpha/beta where they have them. */
const RECURRENT_ACTIVATIONS: Record<string, { name: string; alpha?: number; beta?: number }> = {
  sigmoid: { name: 'Sigmoid' },
  tanh: { name: 'Tanh' },
  relu: { name: 'Relu' },
  hard_sigmoid: { name: 'HardSigmoid', alpha: 0.2, beta: 0.5 },
  linear: { name: 'Affine', alpha: 1, beta: 0 },
  softsign: { name: 'Softsign' },
  softplus: { name: 'Softplus' },
  elu: { name: 'Elu', alpha: 1 },
};

function cellActivations(cell: RecurrentCell, config: Record<string, unknown>): string[] {
  return cell.activationKeys.map((key) => activationKey(config[key] ?? cell.defaults[key]));
}

function recurrentUnsupported(className: string, config: Record<string, unknown>): UnsupportedSetting[] {
  const cell = RECURRENT_CELLS[className]!;
  const found: UnsupportedSetting[] = [];
  for (const name of new Set(cellActivations(cell, config))) {
    if (!(name in RECURRENT_ACTIVATIONS)) found.push({ kind: 'activation', name, detail: `${className} gates take ${Object.keys(RECURRENT_ACTIVATIONS).join(', ')}` });
  }
  for (const flag of ['return_state', 'stateful']) {
    if (configBoolean(config, flag, false)) found.push({ kind: 'attribute', name: flag, detail: 'true' });
  }
  return found;
}

/**
 * ONNX lists activation_alpha / activation_beta for the activations that take them, in order; onnxruntime
 * consumes one value per such activation (rnn_helpers ActivationFuncs), so list exactly those.
 */
function activationAttributes(perDirection: string[], directions: number): Record<string, AttributeValue> {
  const specs = Array.from({ length: directions }, () => perDirection.map((name) => RECURRENT_ACTIVATIONS[name]!)).flat();
  const attributes: Record<string, AttributeValue> = { activations: specs.map((spec) => spec.name) };
  const alphas = specs.filter((spec) => spec.alpha !== undefined).map((spec) => spec.alpha!);
  const betas = specs.filter((spec) => spec.beta !== undefined).map((spec) => spec.beta!);
  if (alphas.length) attributes.activation_alpha = { floats: alphas };
  if (betas.length) attributes.activation_beta = { floats: betas };
  return attributes;
}

/** Keras kernel [inputs, gates*units] -> ONNX [gates*units, inputs], gate blocks in ONNX order. */
function onnxGateMatrix(kernel: Float32Array, inputs: number, units: number, gateOrder: number[]): Float32Array {
  const gates = gateOrder.length;
  const out = new Float32Array(gates * units * inputs);
  for (let gate = 0; gate < gates; gate++) {
    const source = gateOrder[gate]! * units;
    for (let unit = 0; unit < units; unit++) {
      for (let input = 0; input < inputs; input++) out[(gate * units + unit) * inputs + input] = kernel[input * gates * units + source + unit]!;
    }
  }
  return out;
}

function onnxGateVector(bias: Float32Array, units: number, gateOrder: number[]): Float32Array {
  const out = new Float32Array(bias.length);
  gateOrder.forEach((source, gate) => out.set(bias.subarray(source * units, (source + 1) * units), gate * units));
  return out;
}

interface DirectionWeights {
  weights: LayerWeights;
  config: Record<string, unknown>;
}

/** Emit one ONNX recurrent node over a time-major input; returns [Y, Y_h] (Y: [T, dirs, B, H]). */
function emitRecurrent(layer: LayerEmitContext, cell: RecurrentCell, timeMajor: string, directions: DirectionWeights[], direction: string): { sequence: string; last: string; units: number } {
  const { emitter } = layer;
  const kernelShape = directions[0]!.weights.get('kernel').shape;
  const [inputs, units] = [kernelShape[0]!, kernelShape[1]! / cell.gates];
  const size = cell.gates * units;
  const dirs = directions.length;
  const w = layer.constant('W', [dirs, size, inputs], () => concat(directions.map(({ weights }) => onnxGateMatrix(weights.get('kernel').values, inputs, units, cell.gateOrder))));
  const r = layer.constant('R', [dirs, size, units], () => concat(directions.map(({ weights }) => onnxGateMatrix(weights.get('recurrent_kernel').values, units, units, cell.gateOrder))));
  const b = layer.constant('B', [dirs, 2 * size], () =>
    concat(directions.flatMap(({ weights, config }) => cell.biases(weights, config, size).map((bias) => onnxGateVector(bias, units, cell.gateOrder)))),
  );
  const attributes = {
    hidden_size: units,
    direction,
    ...activationAttributes(cellActivations(cell, directions[0]!.config), dirs),
    ...cell.attributes(directions[0]!.config),
  };
  const outputs = emitter.node(cell.op, [timeMajor, w, r, b], { name: layer.name, outputs: 2, attributes });
  return { sequence: outputs[0]!, last: outputs[1]!, units };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function timeMajor(layer: LayerEmitContext, input: KerasValue): string {
  return layer.emitter.op('Transpose', [input.name], { perm: [1, 0, 2] }, `${layer.name}_time_major`);
}

function recurrent(className: string): LayerConverter {
  const cell = RECURRENT_CELLS[className]!;
  return {
    unsupported: (config) => recurrentUnsupported(className, config),
    convert(layer, [input]) {
      const { emitter, config } = layer;
      const goBackwards = configBoolean(config, 'go_backwards', false);
      const { sequence, last, units } = emitRecurrent(layer, cell, timeMajor(layer, input!), [{ weights: layer.weights, config }], goBackwards ? 'reverse' : 'forward');
      const [batch, steps] = input!.shape;
      if (!configBoolean(config, 'return_sequences', false)) {
        return [{ name: emitter.op('Squeeze', [last, emitter.int64Constant([0])], {}, `${layer.name}_last`), shape: [batch!, units] }];
      }
      let perStep = emitter.op('Squeeze', [sequence, emitter.int64Constant([1])], {}, `${layer.name}_steps`);
      // Keras go_backwards returns outputs in processing order (last time step first); ONNX 'reverse'
      // writes each output at its own time step, so flip the time axis back.
      if (goBackwards) {
        perStep = emitter.op('Slice', [perStep, emitter.int64Constant([-1]), emitter.int64Constant([-(2 ** 62)]), emitter.int64Constant([0]), emitter.int64Constant([-1])], {}, `${layer.name}_processing_order`);
      }
      return [{ name: emitter.op('Transpose', [perStep], { perm: [1, 0, 2] }, `${layer.name}_batch_major`), shape: [batch!, steps!, units] }];
    },
  };
}

const MERGE_REDUCTIONS: Record<string, string> = { sum: 'ReduceSum', mul: 'ReduceProd', ave: 'ReduceMean' };

/**
 * Bidirectional: the wrapped layer forwards and a copy over the reversed sequence, merged. Keras flips the
 * backward sequence back before merging, which is where ONNX's bidirectional output already puts it.
 */
const bidirectional: LayerConverter = {
  unsupported(config) {
    const inner = config.layer as { class_name: string; config: Record<string, unknown> } | undefined;
    if (!inner || !(inner.class_name in RECURRENT_CELLS)) return [{ kind: 'layer', name: String(inner?.class_name), detail: 'Bidirectional wraps LSTM, GRU or SimpleRNN only' }];
    const found = recurrentUnsupported(inner.class_name, inner.config);
    const mode = config.merge_mode ?? 'concat';
    if (mode !== 'concat' && !(String(mode) in MERGE_REDUCTIONS)) found.push({ kind: 'attribute', name: 'merge_mode', detail: String(mode) });
    if (configBoolean(inner.config, 'go_backwards', false)) found.push({ kind: 'attribute', name: 'go_backwards', detail: 'inside Bidirectional' });
    return found;
  },
  convert(layer, [input]) {
    const { emitter, opset } = layer;
    const inner = layer.config.layer as { class_name: string; config: Record<string, unknown> };
    const cell = RECURRENT_CELLS[inner.class_name]!;
    const directions = ['forward_', 'backward_'].map((side) => ({ weights: layer.weights.within(side), config: inner.config }));
    const { sequence, last, units } = emitRecurrent(layer, cell, timeMajor(layer, input!), directions, 'bidirectional');
    const mode = String(layer.config.merge_mode ?? 'concat');
    const [batch, steps] = input!.shape;
    const merged = mode === 'concat' ? 2 * units : units;
    if (configBoolean(inner.config, 'return_sequences', false)) {
      if (mode === 'concat') {
        const batchMajor = emitter.op('Transpose', [sequence], { perm: [2, 0, 1, 3] }, `${layer.name}_batch_major`);
        return [{ name: emitter.op('Reshape', [batchMajor, emitter.int64Constant([0, 0, -1])], {}, `${layer.name}_concat`), shape: [batch!, steps!, merged] }];
      }
      const combined = reduce(emitter, opset, MERGE_REDUCTIONS[mode]!, sequence, [1], false, `${layer.name}_${mode}`);
      return [{ name: emitter.op('Transpose', [combined], { perm: [1, 0, 2] }, `${layer.name}_batch_major`), shape: [batch!, steps!, merged] }];
    }
    if (mode === 'concat') {
      const batchMajor = emitter.op('Transpose', [last], { perm: [1, 0, 2] }, `${layer.name}_batch_major`);
      return [{ name: emitter.op('Reshape', [batchMajor, emitter.int64Constant([0, -1])], {}, `${layer.name}_concat`), shape: [batch!, merged] }];
    }
    return [{ name: reduce(emitter, opset, MERGE_REDUCTIONS[mode]!, last, [0], false, `${layer.name}_${mode}`), shape: [batch!, merged] }];
  },
};

export const RECURRENT_LAYERS: Record<string, LayerConverter> = {
  LSTM: recurrent('LSTM'),
  GRU: recurrent('GRU'),
  SimpleRNN: recurrent('SimpleRNN'),
  Bidirectional: bidirectional,
};

/** Layers whose activation settings the recurrent table checks itself (its operators take fewer). */
export const SELF_CHECKED_ACTIVATIONS = new Set(['LSTM', 'GRU', 'SimpleRNN', 'Bidirectional']);
