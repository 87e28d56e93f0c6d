import { activationKey, applyActivation } from './activations.js';
import { clip } from './common-ops.js';
import { configNumber, type LayerConverter, type LayerEmitContext, type UnsupportedSetting } from './layer-converter.js';

/** Layers that only apply an activation; shapes pass through unchanged. */

function unary(emit: (layer: LayerEmitContext, input: string) => string): LayerConverter {
  return { convert: (layer, [input]) => [{ name: emit(layer, input!.name), shape: input!.shape }] };
}

const activation: LayerConverter = {
  convert: (layer, [input]) => [{ name: applyActivation(layer.emitter, input!.name, layer.config.activation, layer.name), shape: input!.shape }],
};

const relu = unary((layer, input) => {
  const maxValue = layer.config.max_value;
  return typeof maxValue === 'number' ? clip(layer.emitter, input, 0, maxValue, layer.name) : layer.emitter.op('Relu', [input], {}, layer.name);
});

const softmax: LayerConverter = {
  unsupported: (config) =>
    Array.isArray(config.axis) && config.axis.length > 1 ? [{ kind: 'attribute', name: 'axis', detail: `softmax over several axes ${JSON.stringify(config.axis)}` } satisfies UnsupportedSetting] : [],
  convert: (layer, [input]) => {
    const axis = Array.isArray(layer.config.axis) ? Number(layer.config.axis[0]) : configNumber(layer.config, 'axis', -1);
    return [{ name: layer.emitter.op('Softmax', [input!.name], { axis }, layer.name), shape: input!.shape }];
  },
};

const prelu: LayerConverter = {
  convert(layer, [input]) {
    const alpha = layer.weights.get('alpha');
    const slope = layer.constant('alpha', alpha.shape, () => alpha.values);
    return [{ name: layer.emitter.op('PRelu', [input!.name, slope], {}, layer.name), shape: input!.shape }];
  },
};

export const ACTIVATION_LAYERS: Record<string, LayerConverter> = {
  Activation: activation,
  ReLU: relu,
  LeakyReLU: unary((layer, input) => layer.emitter.op('LeakyRelu', [input], { alpha: { float: configNumber(layer.config, 'alpha', 0.3) } }, layer.name)),
  PReLU: prelu,
  ELU: unary((layer, input) => layer.emitter.op('Elu', [input], { alpha: { float: configNumber(layer.config, 'alpha', 1) } }, layer.name)),
  ThresholdedReLU: unary((layer, input) => layer.emitter.op('ThresholdedRelu', [input], { alpha: { float: configNumber(layer.config, 'theta', 1) } }, layer.name)),
  Softmax: softmax,
};

/** The activation strings a layer's config names (checked against the activation table before emitting). */
export function configuredActivations(config: Record<string, unknown>): Array<{ key: string; value: unknown }> {
  return ['activation', 'recurrent_activation']
    .filter((key) => key in config)
    .map((key) => ({ key, value: config[key] }))
    .filter(({ value }) => activationKey(value) !== '');
}
