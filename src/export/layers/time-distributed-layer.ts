import type { KerasLayer } from '../../tfjs/layers-topology.js';
import { shapeSlice } from './common-ops.js';
import type { Dim, LayerConverter } from './layer-converter.js';

/**
 * TimeDistributed(layer): fold time into the batch ([B, T, ...] -> [B*T, ...]), apply the wrapped layer
 * through the layer table, unfold. Shapes are taken at run time, so open batch and time sizes work.
 */
const timeDistributed: LayerConverter = {
  unsupported: (config, checkInner) => checkInner(config.layer as KerasLayer),
  convert(layer, [input]) {
    const { emitter } = layer;
    const [batch, steps, ...inner] = input!.shape;
    const folded = emitter.op('Concat', [emitter.int64Constant([-1]), shapeSlice(emitter, input!.name, 2, undefined, `${layer.name}_inner`)], { axis: 0 }, `${layer.name}_folded_shape`);
    const merged = emitter.op('Reshape', [input!.name, folded], {}, `${layer.name}_fold`);
    const foldedBatch: Dim = batch === null || steps === null ? null : batch! * steps!;
    const [output] = layer.convertInner(layer.config.layer as KerasLayer, [{ name: merged, shape: [foldedBatch, ...inner] }], layer.weights);
    const unfolded = emitter.op(
      'Concat',
      [shapeSlice(emitter, input!.name, 0, 2, `${layer.name}_outer`), shapeSlice(emitter, output!.name, 1, undefined, `${layer.name}_result`)],
      { axis: 0 },
      `${layer.name}_unfolded_shape`,
    );
    return [{ name: emitter.op('Reshape', [output!.name, unfolded], {}, layer.name), shape: [batch!, steps!, ...output!.shape.slice(1)] }];
  },
};

export const WRAPPER_LAYERS: Record<string, LayerConverter> = { TimeDistributed: timeDistributed };
