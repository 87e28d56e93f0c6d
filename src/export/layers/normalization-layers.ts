import { reduce, scalar } from './common-ops.js';
import { configBoolean, configNumber, normalizeAxis, type LayerConverter, type LayerEmitContext } from './layer-converter.js';

/** BatchNormalization (inference: moving statistics) and LayerNormalization. */

function axesOf(config: Record<string, unknown>, rank: number): number[] {
  const axis = config.axis ?? -1;
  return (Array.isArray(axis) ? axis.map(Number) : [Number(axis)]).map((value) => normalizeAxis(value, rank)).sort((a, b) => a - b);
}

/** gamma/beta, or ones/zeros when the layer was built without scale/center. */
function affineWeight(layer: LayerEmitContext, name: 'gamma' | 'beta', enabled: boolean, size: number, dims: number[]): string {
  return layer.constant(name, dims, () => (enabled ? layer.weights.get(name).values : new Float32Array(size).fill(name === 'gamma' ? 1 : 0)));
}

const batchNormalization: LayerConverter = {
  unsupported: (config) => (Array.isArray(config.axis) && config.axis.length > 1 ? [{ kind: 'attribute', name: 'axis', detail: `several axes ${JSON.stringify(config.axis)}` }] : []),
  convert(layer, [input]) {
    const { emitter, config } = layer;
    const rank = input!.shape.length;
    const axis = axesOf(config, rank)[0]!;
    const mean = layer.weights.get('moving_mean');
    const channels = mean.shape[0]!;
    const weights = [
      affineWeight(layer, 'gamma', configBoolean(config, 'scale', true), channels, [channels]),
      affineWeight(layer, 'beta', configBoolean(config, 'center', true), channels, [channels]),
      layer.constant('moving_mean', [channels], () => mean.values),
      layer.constant('moving_variance', [channels], () => layer.weights.get('moving_variance').values),
    ];
    const attributes = { epsilon: { float: configNumber(config, 'epsilon', 1e-3) } };
    if (axis === 1) return [{ name: emitter.op('BatchNormalization', [input!.name, ...weights], attributes, layer.name), shape: input!.shape }];
    // ONNX normalizes axis 1: move the layer's axis there and back.
    const toFront = [0, axis, ...Array.from({ length: rank }, (_, index) => index).filter((index) => index !== 0 && index !== axis)];
    const back = toFront.map((_, index) => toFront.indexOf(index));
    const front = emitter.op('Transpose', [input!.name], { perm: toFront }, `${layer.name}_to_channels_first`);
    const normalized = emitter.op('BatchNormalization', [front, ...weights], attributes, layer.name);
    return [{ name: emitter.op('Transpose', [normalized], { perm: back }, `${layer.name}_to_channels_last`), shape: input!.shape }];
  },
};

const layerNormalization: LayerConverter = {
  convert(layer, [input]) {
    const { emitter, config, opset } = layer;
    const rank = input!.shape.length;
    const axes = axesOf(config, rank);
    const epsilon = configNumber(config, 'epsilon', 1e-3);
    const normalizedDims = axes.map((axis) => input!.shape[axis]!);
    if (normalizedDims.some((size) => size === null)) throw new Error(`${layer.name}: LayerNormalization over an open dimension`);
    const size = (normalizedDims as number[]).reduce((product, dim) => product * dim, 1);
    // gamma/beta broadcast against the input: their dims sit at `axes`, 1 elsewhere after the first.
    const broadcastDims = Array.from({ length: rank - axes[0]! }, (_, offset) => (axes.includes(axes[0]! + offset) ? input!.shape[axes[0]! + offset]! : 1)) as number[];
    const gamma = affineWeight(layer, 'gamma', configBoolean(config, 'scale', true), size, broadcastDims);
    const beta = affineWeight(layer, 'beta', configBoolean(config, 'center', true), size, broadcastDims);
    const trailing = axes.every((axis, index) => axis === rank - axes.length + index);
    if (opset >= 17 && trailing) {
      return [{ name: emitter.op('LayerNormalization', [input!.name, gamma, beta], { axis: axes[0]!, epsilon: { float: epsilon } }, layer.name), shape: input!.shape }];
    }
    // (x - mean) / sqrt(variance + epsilon) * gamma + beta, as tfjs computes it with moments().
    const mean = reduce(emitter, opset, 'ReduceMean', input!.name, axes, true, `${layer.name}_mean`);
    const centered = emitter.op('Sub', [input!.name, mean], {}, `${layer.name}_centered`);
    const variance = reduce(emitter, opset, 'ReduceMean', emitter.op('Mul', [centered, centered], {}, `${layer.name}_squared`), axes, true, `${layer.name}_variance`);
    const deviation = emitter.op('Sqrt', [emitter.op('Add', [variance, scalar(emitter, `${layer.name}_epsilon`, epsilon)], {}, `${layer.name}_var_eps`)], {}, `${layer.name}_deviation`);
    const normalized = emitter.op('Div', [centered, deviation], {}, `${layer.name}_normalized`);
    const scaled = emitter.op('Mul', [normalized, gamma], {}, `${layer.name}_scaled`);
    return [{ name: emitter.op('Add', [scaled, beta], {}, layer.name), shape: input!.shape }];
  },
};

export const NORMALIZATION_LAYERS: Record<string, LayerConverter> = {
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
};
