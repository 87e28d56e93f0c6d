import { ONNX_TYPE } from '../../onnx/data-types.js';
import { makeNode } from '../../onnx/builders.js';
import { ensureOpset } from '../../onnx/graph.js';
import type { TensorProto } from '../../onnx/onnx-proto.js';
import type { BlockLayout } from '../algorithms/quantization-grid.js';
import { blockCount } from '../algorithms/quantization-grid.js';
import { INT4_GRIDS } from '../kernels/int4-grids.js';
import { packNibbleRows, packNibbles, transposeMatrix } from '../kernels/nibble-packing.js';
import { bytesOf, deferQuantization } from './deferred-quantization.js';
import type { Int4Rewriter } from './int4-blockwise.js';
import { MICROSOFT_DOMAIN } from './matmul-nbits.js';
import { quantizedDecision } from './quantized-decision.js';

/**
 * Gather(table[V, D], indices, axis=0) -> com.microsoft GatherBlockQuantized(data, indices, scales[,
 * zero_points]) with gather_axis=0, quantize_axis=1, bits=4: each embedding row in blocks of B.
 * The data type is uint8 with two codes per byte, low nibble first, as onnxruntime's own quantizer writes it
 * and the one form every ORT back end (CPU, CUDA, WebGPU) reads; with uint8 data a missing zero point
 * means 8, as for MatMulNBits (contrib_ops/cpu/quantization/gather_block_quantized.cc):
 *   data        uint8 [V, D/2];
 *   scales      float32 [V, ceil(D/B)];
 *   zero_points uint8 [V, ceil(ceil(D/B)/2)], packed per row like data; absent when symmetric.
 */

const BITS = 4;

function gatherAxis(use: Parameters<Int4Rewriter['skipReason']>[0]): number {
  const axis = use.node.attribute?.find((attribute) => attribute.name === 'axis')?.i;
  const value = axis === undefined ? 0 : Number(axis);
  return value < 0 ? value + use.dims.length : value;
}

export const GATHER_TO_GATHER_BLOCK_QUANTIZED: Int4Rewriter = {
  opType: 'Gather',
  inputIndex: 0,

  skipReason(use) {
    if (use.dims.length !== 2) return `GatherBlockQuantized is used for 2-D [vocab, dim] tables, this one is [${use.dims.join(', ')}]`;
    if (gatherAxis(use) !== 0) return 'Gather along axis 1: GatherBlockQuantized with packed uint8 data gathers rows only';
    // ORT infers the row length as twice the packed byte count, so an odd one cannot be expressed
    if (use.dims[1]! % 2 !== 0) return `rows of odd length ${use.dims[1]} cannot be packed two codes per byte`;
    return undefined;
  },

  rewrite(model, target, settings) {
    const [vocabulary, width] = target.dims as [number, number];
    const { blockSize, symmetric } = settings;
    // The grids block down columns of a [rows, columns] matrix: the table's rows are the columns here.
    const layout: BlockLayout = { rows: width, columns: vocabulary, blockSize };
    const blocks = blockCount(layout);
    const name = target.weight.name ?? 'embedding';
    const data: TensorProto = { name: target.uniqueName(`${name}_Q4`), data_type: ONNX_TYPE.UINT8, dims: [vocabulary, width / 2] };
    const scales: TensorProto = { name: target.uniqueName(`${name}_scales`), data_type: ONNX_TYPE.FLOAT32, dims: [vocabulary, blocks] };
    const zeroPoints: TensorProto | undefined = symmetric
      ? undefined
      : { name: target.uniqueName(`${name}_zero_points`), data_type: ONNX_TYPE.UINT8, dims: [vocabulary, Math.ceil(blocks / 2)] };
    const outputs = [data, scales, ...(zeroPoints ? [zeroPoints] : [])];

    target.owner.removeInitializer(name);
    for (const tensor of outputs) target.home.addInitializer(tensor);
    const attributes = { gather_axis: 0, quantize_axis: 1, block_size: blockSize, bits: BITS };
    for (const { graph, node } of target.consumers) {
      const inputs = [data.name!, node.input![1]!, scales.name!, ...(zeroPoints ? [zeroPoints.name!] : [])];
      graph.replaceNode(node, [makeNode('GatherBlockQuantized', inputs, [...node.output!], attributes, { name: node.name, domain: MICROSOFT_DOMAIN })]);
    }
    ensureOpset(model.proto, MICROSOFT_DOMAIN, 1);

    const grid = INT4_GRIDS[symmetric ? 'uint4-symmetric' : 'uint4-asymmetric'];
    deferQuantization(model, target.weight, outputs, (values) => {
      const quantized = settings.algorithm.quantize(transposeMatrix(values, vocabulary, width), layout, grid);
      return [
        // Rows of even length: packing the flattened table is packing each row.
        packNibbles(transposeMatrix(quantized.codes, width, vocabulary)),
        bytesOf(transposeMatrix(quantized.scales, blocks, vocabulary)),
        ...(zeroPoints ? [packNibbleRows(transposeMatrix(quantized.zeroPoints, blocks, vocabulary), vocabulary, blocks)] : []),
      ];
    });

    return quantizedDecision(target.weight, { name: target.consumers[0]!.node.name, opType: 'Gather' }, `int4 block ${blockSize} GatherBlockQuantized`, outputs, { rows: vocabulary, width, symmetric, nodes: target.consumers.length });
  },
};
