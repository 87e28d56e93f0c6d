import type { AttributeValue } from '../../onnx/builders.js';
import { inChannelsFirst } from './common-ops.js';
import { channelsFirstSetting, type Dim, type LayerConverter } from './layer-converter.js';

/** ZeroPadding2D, Cropping2D and UpSampling2D, all emitted on the channels-first view. */

/** Keras writes the amounts as n, [rows, cols] or [[top, bottom], [left, right]]. */
function pairs(value: unknown): [[number, number], [number, number]] {
  if (typeof value === 'number') return [[value, value], [value, value]];
  const [rows, cols] = value as Array<number | number[]>;
  const pair = (entry: number | number[]): [number, number] => (Array.isArray(entry) ? [Number(entry[0]), Number(entry[1])] : [Number(entry), Number(entry)]);
  return [pair(rows!), pair(cols!)];
}

function grow(size: Dim, amount: number): Dim {
  return size === null ? null : size + amount;
}

const zeroPadding2d: LayerConverter = {
  unsupported: channelsFirstSetting,
  convert(layer, [input]) {
    const [[top, bottom], [left, right]] = pairs(layer.config.padding ?? 1);
    const { emitter } = layer;
    const pads = emitter.int64Constant([0, 0, top, left, 0, 0, bottom, right]);
    const output = inChannelsFirst(emitter, input!, layer.name, (x) => emitter.op('Pad', [x, pads], { mode: 'constant' }, layer.name));
    const [batch, height, width, channels] = input!.shape;
    return [{ name: output, shape: [batch!, grow(height!, top + bottom), grow(width!, left + right), channels!] }];
  },
};

const cropping2d: LayerConverter = {
  unsupported: channelsFirstSetting,
  convert(layer, [input]) {
    const [[top, bottom], [left, right]] = pairs(layer.config.cropping ?? 0);
    const { emitter } = layer;
    // An end of 0 would mean "up to index 0": an uncropped end runs to the largest int64 instead.
    const end = (amount: number) => (amount === 0 ? 2 ** 62 : -amount);
    const inputs = [emitter.int64Constant([top, left]), emitter.int64Constant([end(bottom), end(right)]), emitter.int64Constant([2, 3])];
    const output = inChannelsFirst(emitter, input!, layer.name, (x) => emitter.op('Slice', [x, ...inputs], {}, layer.name));
    const [batch, height, width, channels] = input!.shape;
    return [{ name: output, shape: [batch!, grow(height!, -top - bottom), grow(width!, -left - right), channels!] }];
  },
};

/**
 * tfjs resizes with resizeNearestNeighbor / resizeBilinear without align_corners or half-pixel centers:
 * source = destination / scale, which is ONNX's 'asymmetric' transform (nearest rounding down).
 */
const upSampling2d: LayerConverter = {
  unsupported: channelsFirstSetting,
  convert(layer, [input]) {
    const size = layer.config.size ?? [2, 2];
    const [rows, cols] = (Array.isArray(size) ? size : [size, size]).map(Number) as [number, number];
    const { emitter } = layer;
    const scales = emitter.floatConstant(`${layer.name}_scales`, [4], [1, 1, rows, cols]);
    const bilinear = layer.config.interpolation === 'bilinear';
    const attributes: Record<string, AttributeValue> = bilinear
      ? { mode: 'linear', coordinate_transformation_mode: 'asymmetric' }
      : { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    const output = inChannelsFirst(emitter, input!, layer.name, (x) => emitter.op('Resize', [x, '', scales], attributes, layer.name));
    const [batch, height, width, channels] = input!.shape;
    return [{ name: output, shape: [batch!, height === null ? null : height! * rows, width === null ? null : width! * cols, channels!] }];
  },
};

export const RESAMPLING_LAYERS: Record<string, LayerConverter> = {
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  UpSampling2D: upSampling2d,
};
