import { channelsLastToFirst } from '../layout/transpose-perms.js';
import { inChannelsFirst } from './common-ops.js';
import { channelsFirstSetting, configBoolean, configTuple, type LayerConverter } from './layer-converter.js';
import { slidingWindowPadding } from './spatial-geometry.js';

/** Max/average pooling over windows and over the whole spatial extent. */

function windowPooling(op: 'MaxPool' | 'AveragePool', spatialRank: number): LayerConverter {
  return {
    unsupported: channelsFirstSetting,
    convert(layer, [input]) {
      const { config, emitter } = layer;
      const kernel = configTuple(config, 'pool_size', spatialRank, 2);
      const strides = config.strides == null ? kernel : configTuple(config, 'strides', spatialRank, 1);
      const padding = slidingWindowPadding(String(config.padding ?? 'valid'), input!.shape.slice(1, -1), kernel, strides, kernel.map(() => 1));
      // TF averages over the window's real pixels only, ONNX's count_include_pad=0.
      const attributes = { kernel_shape: kernel, strides, ...padding.attributes, ...(op === 'AveragePool' ? { count_include_pad: 0 } : {}) };
      const output = inChannelsFirst(emitter, input!, layer.name, (x) => emitter.op(op, [x], attributes, layer.name));
      return [{ name: output, shape: [input!.shape[0]!, ...padding.outputSpatial, input!.shape.at(-1)!] }];
    },
  };
}

function globalPooling(op: 'GlobalMaxPool' | 'GlobalAveragePool'): LayerConverter {
  return {
    unsupported: channelsFirstSetting,
    convert(layer, [input]) {
      const { emitter } = layer;
      const rank = input!.shape.length;
      const channels = input!.shape.at(-1)!;
      if (configBoolean(layer.config, 'keepdims', false)) {
        const kept = inChannelsFirst(emitter, input!, layer.name, (x) => emitter.op(op, [x], {}, layer.name));
        return [{ name: kept, shape: [input!.shape[0]!, ...new Array<number>(rank - 2).fill(1), channels] }];
      }
      // [N, C, 1, ...] flattens to [N, C] without a transpose back.
      const first = emitter.op('Transpose', [input!.name], { perm: channelsLastToFirst(rank) }, `${layer.name}_to_channels_first`);
      const pooled = emitter.op(op, [first], {}, layer.name);
      return [{ name: emitter.op('Flatten', [pooled], { axis: 1 }, `${layer.name}_flatten`), shape: [input!.shape[0]!, channels] }];
    },
  };
}

export const POOLING_LAYERS: Record<string, LayerConverter> = {
  MaxPooling1D: windowPooling('MaxPool', 1),
  MaxPooling2D: windowPooling('MaxPool', 2),
  MaxPooling3D: windowPooling('MaxPool', 3),
  AveragePooling1D: windowPooling('AveragePool', 1),
  AveragePooling2D: windowPooling('AveragePool', 2),
  AveragePooling3D: windowPooling('AveragePool', 3),
  GlobalMaxPooling1D: globalPooling('GlobalMaxPool'),
  GlobalMaxPooling2D: globalPooling('GlobalMaxPool'),
  GlobalAveragePooling1D: globalPooling('GlobalAveragePool'),
  GlobalAveragePooling2D: globalPooling('GlobalAveragePool'),
};
