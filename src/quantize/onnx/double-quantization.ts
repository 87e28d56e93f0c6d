import { makeInt64Tensor, makeNode } from '../../onnx/builders.js';
import { ONNX_TYPE } from '../../onnx/data-types.js';
import type { OnnxGraph } from '../../onnx/graph.js';
import type { NodeProto, TensorProto } from '../../onnx/onnx-proto.js';
import { tensorByteLength } from '../../onnx/tensor-data.js';

/**
 * QLoRA's double quantization of the per-block absmax values (bitsandbytes `compress_statistics`): subtract
 * their mean, then store them as 8-bit codes with one float32 scale per group of at most 256, which takes the
 * constants from 32 bits per block to about 8.
 *
 * bitsandbytes uses its non-linear "dynamic" 8-bit map there; the restore must run in onnxruntime, whose only
 * ready-made 8-bit decoder is the affine DequantizeLinear, so the codes here are symmetric linear int8
 * (scale = max|absmax - mean| / 127 per group). The group axis is made explicit by storing the codes as
 * [groups, groupLength] and dequantizing per axis 0, which needs no opset 21 (blocked DequantizeLinear):
 *
 *   DequantizeLinear(codes int8 [G, L], scales [G], axis 0) -> Reshape [-1] -> (Slice [0, blocks)) -> Add(mean)
 *
 * DequantizeLinear is the standard op from opset 13 (per-axis) and ORT's com.microsoft DequantizeLinear (same
 * maths, any opset) below that; the model already depends on com.microsoft for MatMulBnb4. Groups are
 * balanced (L = ceil(blocks / G) with G = ceil(blocks / 256)) so the zero padding, sliced off again, is
 * under one code per group; a weight with 16 blocks gets one group of 16, not a mostly empty group of 256.
 */

export const DOUBLE_QUANT_GROUP = 256;
const INT8_LIMIT = 127;

export interface AbsmaxGroups {
  groups: number;
  groupLength: number;
  /** Zero codes after the last absmax, so the codes fill [groups, groupLength]. */
  padding: number;
}

export function absmaxGroups(blocks: number): AbsmaxGroups {
  const groups = Math.max(1, Math.ceil(blocks / DOUBLE_QUANT_GROUP));
  const groupLength = Math.ceil(blocks / groups);
  return { groups, groupLength, padding: groups * groupLength - blocks };
}

export interface DoubleQuantizedAbsmax {
  /** int8 [groups * groupLength], zero-padded. */
  codes: Int8Array;
  /** float32 [groups]. */
  scales: Float32Array;
  /** The mean of the absmax values, added back after dequantization. */
  offset: number;
}

export function doubleQuantizeAbsmax(absmax: Float32Array): DoubleQuantizedAbsmax {
  const { groups, groupLength } = absmaxGroups(absmax.length);
  let sum = 0;
  for (const value of absmax) sum += value;
  const offset = Math.fround(absmax.length ? sum / absmax.length : 0);
  const codes = new Int8Array(groups * groupLength);
  const scales = new Float32Array(groups);
  for (let group = 0; group < groups; group++) {
    const start = group * groupLength;
    const end = Math.min(absmax.length, start + groupLength);
    let range = 0;
    for (let index = start; index < end; index++) range = Math.max(range, Math.abs(Math.fround(absmax[index]! - offset)));
    // A group equal to the mean everywhere gets codes 0; scale 1 keeps the scale tensor free of zeros.
    const scale = range ? Math.fround(range / INT8_LIMIT) : 1;
    scales[group] = scale;
    for (let index = start; index < end; index++) {
      const code = Math.round(Math.fround(absmax[index]! - offset) / scale);
      codes[index] = Math.max(-INT8_LIMIT, Math.min(INT8_LIMIT, code));
    }
  }
  return { codes, scales, offset };
}

/** What the restoring nodes compute in float32: (code * scale) + offset, for the first `blocks` codes. */
export function restoreAbsmax(quantized: DoubleQuantizedAbsmax, blocks: number): Float32Array {
  const { groupLength } = absmaxGroups(blocks);
  const restored = new Float32Array(blocks);
  for (let index = 0; index < blocks; index++) {
    const group = Math.floor(index / groupLength);
    restored[index] = Math.fround(Math.fround(quantized.codes[index]! * quantized.scales[group]!) + quantized.offset);
  }
  return restored;
}

export interface AbsmaxRestoration {
  /** The float32 [blocks] value that replaces a stored absmax tensor. */
  output: string;
  /** Tensors whose bytes are computed with the weight: codes, scales, offset (in the order of doubleQuantizeAbsmax). */
  deferred: TensorProto[];
  /** Small constant tensors (shapes, slice bounds), already holding their data. */
  constants: TensorProto[];
  nodes: NodeProto[];
  /** Bytes of all tensors it stores. */
  bytes: number;
}

/** Build the restoring nodes and tensors (not yet added to the graph) for a [blocks] absmax named `baseName`. */
export function absmaxRestoration(graph: OnnxGraph, baseName: string, blocks: number, defaultOpset: number): AbsmaxRestoration {
  const { groups, groupLength, padding } = absmaxGroups(blocks);
  const name = (suffix: string) => graph.uniqueName(`${baseName}_${suffix}`);
  const codes: TensorProto = { name: name('int8'), data_type: ONNX_TYPE.INT8, dims: [groups, groupLength] };
  const scales: TensorProto = { name: name('scales'), data_type: ONNX_TYPE.FLOAT32, dims: [groups] };
  const offset: TensorProto = { name: name('offset'), data_type: ONNX_TYPE.FLOAT32, dims: [] };
  const flatShape = makeInt64Tensor(name('flat_shape'), [1], [-1]);
  const constants = [flatShape];

  const dequantized = name('dequantized');
  const flat = name('flat');
  const output = name('restored');
  const nodes = [
    makeNode('DequantizeLinear', [codes.name!, scales.name!], [dequantized], { axis: 0 }, { name: name('DequantizeLinear'), domain: defaultOpset >= 13 ? '' : 'com.microsoft' }),
    makeNode('Reshape', [dequantized, flatShape.name!], [flat], {}, { name: name('Reshape') }),
  ];
  let unpadded = flat;
  if (padding > 0) {
    unpadded = name('unpadded');
    // Slice takes its bounds as inputs from opset 10 and as attributes before.
    if (defaultOpset >= 10) {
      const starts = makeInt64Tensor(name('slice_starts'), [1], [0]);
      const ends = makeInt64Tensor(name('slice_ends'), [1], [blocks]);
      constants.push(starts, ends);
      nodes.push(makeNode('Slice', [flat, starts.name!, ends.name!], [unpadded], {}, { name: name('Slice') }));
    } else {
      nodes.push(makeNode('Slice', [flat], [unpadded], { starts: [0], ends: [blocks], axes: [0] }, { name: name('Slice') }));
    }
  }
  nodes.push(makeNode('Add', [unpadded, offset.name!], [output], {}, { name: name('Add') }));
  const deferred = [codes, scales, offset];
  const bytes = [...deferred, ...constants].reduce((sum, tensor) => sum + tensorByteLength(tensor)!, 0);
  return { output, deferred, constants, nodes, bytes };
}
