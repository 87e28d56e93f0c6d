import type { AttributeValue } from '../../onnx/builders.js';
import type { Dim } from './layer-converter.js';

/**
 * Keras `padding` (valid / same / causal) as ONNX pads and the output size it gives. TF's 'same' puts the
 * odd pixel at the end, which is ONNX's SAME_UPPER; explicit pads are written whenever they do not depend on
 * the input size (stride 1, or a size fixed by the model), because every runtime reads those the same way.
 */
export interface SpatialPadding {
  attributes: Record<string, AttributeValue>;
  outputSpatial: Dim[];
}

export function slidingWindowPadding(padding: string, inputSpatial: Dim[], kernel: number[], strides: number[], dilations: number[]): SpatialPadding {
  const extents = kernel.map((size, axis) => (size - 1) * dilations[axis]! + 1);
  const rank = kernel.length;
  if (padding === 'valid') {
    return {
      attributes: { pads: new Array<number>(2 * rank).fill(0) },
      outputSpatial: inputSpatial.map((size, axis) => (size === null ? null : Math.floor((size - extents[axis]!) / strides[axis]!) + 1)),
    };
  }
  if (padding === 'causal') {
    // Conv1D only: all the padding before the sequence, so step t sees inputs up to t.
    return {
      attributes: { pads: [extents[0]! - 1, 0] },
      outputSpatial: inputSpatial.map((size, axis) => (size === null ? null : Math.floor((size - 1) / strides[axis]!) + 1)),
    };
  }
  const outputSpatial = inputSpatial.map((size, axis) => (size === null ? null : Math.ceil(size / strides[axis]!)));
  const totals = inputSpatial.map((size, axis) => {
    if (strides[axis] === 1) return extents[axis]! - 1;
    return size === null ? null : Math.max((outputSpatial[axis]! - 1) * strides[axis]! + extents[axis]! - size, 0);
  });
  if (totals.some((total) => total === null)) return { attributes: { auto_pad: 'SAME_UPPER' }, outputSpatial };
  const begins = totals.map((total) => Math.floor(total! / 2));
  return { attributes: { pads: [...begins, ...totals.map((total, axis) => total! - begins[axis]!)] }, outputSpatial };
}

/**
 * Conv2DTranspose: 'valid' gives (L-1)s + k, 'same' gives L*s (TF crops (k-s)/2 at the start, the rest at
 * the end; a kernel smaller than the stride leaves zeros at the end, which ONNX calls output_padding).
 */
export function transposedConvPadding(padding: string, inputSpatial: Dim[], kernel: number[], strides: number[]): SpatialPadding {
  if (padding === 'valid') {
    return {
      attributes: { pads: new Array<number>(2 * kernel.length).fill(0) },
      outputSpatial: inputSpatial.map((size, axis) => (size === null ? null : (size - 1) * strides[axis]! + kernel[axis]!)),
    };
  }
  const totals = kernel.map((size, axis) => Math.max(size - strides[axis]!, 0));
  const begins = totals.map((total) => Math.floor(total / 2));
  const attributes: Record<string, AttributeValue> = { pads: [...begins, ...totals.map((total, axis) => total - begins[axis]!)] };
  const outputPadding = kernel.map((size, axis) => Math.max(strides[axis]! - size, 0));
  if (outputPadding.some((extra) => extra > 0)) attributes.output_padding = outputPadding;
  return { attributes, outputSpatial: inputSpatial.map((size, axis) => (size === null ? null : size * strides[axis]!)) };
}
