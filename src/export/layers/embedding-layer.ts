import { ONNX_TYPE } from '../../onnx/data-types.js';
import type { LayerConverter } from './layer-converter.js';

/** Embedding: a Gather of rows; tfjs feeds indices as float32 and casts them, so cast here too. */
const embedding: LayerConverter = {
  unsupported: (config) => (config.mask_zero === true ? [{ kind: 'attribute', name: 'mask_zero', detail: 'masking is not exported' }] : []),
  convert(layer, [input]) {
    const table = layer.weights.get('embeddings');
    const { emitter } = layer;
    const rows = layer.constant('embeddings', table.shape, () => table.values);
    const indices = emitter.op('Cast', [input!.name], { to: ONNX_TYPE.INT64! }, `${layer.name}_indices`);
    return [{ name: emitter.op('Gather', [rows, indices], { axis: 0 }, layer.name), shape: [...input!.shape, table.shape[1]!] }];
  },
};

export const EMBEDDING_LAYERS: Record<string, LayerConverter> = { Embedding: embedding };
