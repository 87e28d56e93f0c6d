import type { Dim, LayerConverter } from './layer-converter.js';

/** Layers that move values around without computing: Flatten, Reshape, Permute, RepeatVector, and the
 * dropout/noise family, which is the identity at inference. */

function product(dims: Dim[]): Dim {
  return dims.some((size) => size === null) ? null : (dims as number[]).reduce((total, size) => total * size, 1);
}

const flatten: LayerConverter = {
  unsupported: (config) => (config.data_format === 'channels_first' ? [{ kind: 'attribute', name: 'data_format', detail: 'channels_first' }] : []),
  convert: (layer, [input]) => [
    { name: layer.emitter.op('Flatten', [input!.name], { axis: 1 }, layer.name), shape: [input!.shape[0]!, product(input!.shape.slice(1))] },
  ],
};

const reshape: LayerConverter = {
  convert(layer, [input]) {
    // tfjs writes the inferred dimension as null, Keras as -1.
    const target = (layer.config.target_shape as Array<number | null>).map((size) => (size === null ? -1 : Number(size)));
    const known = product(input!.shape.slice(1));
    const rest = target.filter((size) => size !== -1).reduce((total, size) => total * size, 1);
    const shape: Dim[] = [input!.shape[0]!, ...target.map((size) => (size !== -1 ? size : known === null ? null : known / rest))];
    // 0 keeps the batch dimension whatever it is at run time.
    return [{ name: layer.emitter.op('Reshape', [input!.name, layer.emitter.int64Constant([0, ...target])], {}, layer.name), shape }];
  },
};

const permute: LayerConverter = {
  convert(layer, [input]) {
    const perm = [0, ...(layer.config.dims as number[]).map(Number)];
    return [{ name: layer.emitter.op('Transpose', [input!.name], { perm }, layer.name), shape: perm.map((axis) => input!.shape[axis]!) }];
  },
};

const repeatVector: LayerConverter = {
  convert(layer, [input]) {
    const times = Number(layer.config.n);
    const { emitter } = layer;
    const expanded = emitter.op('Unsqueeze', [input!.name, emitter.int64Constant([1])], {}, `${layer.name}_unsqueeze`);
    const repeated = emitter.op('Expand', [expanded, emitter.int64Constant([1, times, 1])], {}, layer.name);
    return [{ name: repeated, shape: [input!.shape[0]!, times, input!.shape[1]!] }];
  },
};

const identity: LayerConverter = { convert: (_layer, [input]) => [input!] };

export const RESHAPE_LAYERS: Record<string, LayerConverter> = {
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  RepeatVector: repeatVector,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  SpatialDropout3D: identity,
  GaussianDropout: identity,
  GaussianNoise: identity,
  AlphaDropout: identity,
  ActivityRegularization: identity,
};
