import type { AttributeValue } from '../../../onnx/builders.js';
import { toChannelsFirst, toChannelsLast } from '../layout.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';

/**
 * ResizeBilinear and ResizeNearestNeighbor (images NHWC, size [height, width]) as ONNX Resize on the
 * channels-first layout. TF's three coordinate rules map to ONNX's: align_corners to align_corners,
 * half_pixel_centers to half_pixel, neither to asymmetric. TF's nearest neighbour takes floor of the source
 * coordinate (round with align_corners); floor((x + 0.5) / scale) is half_pixel with round_prefer_ceil.
 */
function resize(mode: 'linear' | 'nearest'): TfOpConverter {
  return (op) => {
    const x = op.input(0);
    const alignCorners = op.attrs.bool('align_corners', false);
    const halfPixel = op.attrs.bool('half_pixel_centers', false);
    if (alignCorners && halfPixel) op.fail(`${op.node.op} align_corners`, 'align_corners together with half_pixel_centers');
    const attributes: Record<string, AttributeValue> = {
      mode,
      coordinate_transformation_mode: alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric',
    };
    if (mode === 'nearest') attributes.nearest_mode = alignCorners || halfPixel ? 'round_prefer_ceil' : 'floor';
    const size = op.input(1);
    const constantSize = size.constant === undefined ? undefined : Array.from(size.constant, Number);
    const [batch, , , channels] = x.shape ?? [null, null, null, null];
    const channelsFirst = toChannelsFirst(op, x);
    const outShape = [batch ?? null, channels ?? null, constantSize?.[0] ?? null, constantSize?.[1] ?? null];
    const resized = op.emitValue('Resize', [channelsFirst, '', '', spatialSizes(op, channelsFirst.name())], x.dtype, outShape, attributes);
    return [toChannelsLast(op, resized)];
  };
}

/**
 * Sizes of every axis: batch and channels from the input's Shape, then the requested height and width.
 * (Opset 18's `axes` would spare the Shape, but onnxruntime's shape inference rejects it with constant sizes.)
 */
function spatialSizes(op: OpConversion, channelsFirst: string): string {
  const leading = op.emit('Slice', [op.emit('Shape', [channelsFirst])[0]!, op.int64([0]), op.int64([2])])[0]!;
  return op.emit('Concat', [leading, op.toInt64(op.input(1))], { axis: 0 })[0]!;
}

export const RESIZING_OPS: Record<string, TfOpConverter> = {
  ResizeBilinear: resize('linear'),
  ResizeNearestNeighbor: resize('nearest'),
};
