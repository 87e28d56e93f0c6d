import { ONNX_TYPE } from '../../onnx/data-types.js';
import { makeNode } from '../../onnx/builders.js';
import { ensureOpset } from '../../onnx/graph.js';
import type { TensorProto } from '../../onnx/onnx-proto.js';
import type { BlockLayout } from '../algorithms/quantization-grid.js';
import { blockCount } from '../algorithms/quantization-grid.js';
import { INT4_GRIDS } from '../kernels/int4-grids.js';
import { packMatMulNBitsWeight, packMatMulNBitsZeroPoints, transposeMatrix } from '../kernels/nibble-packing.js';
import { bytesOf, deferQuantization } from './deferred-quantization.js';
import type { Int4Rewriter } from './int4-blockwise.js';
import { quantizedDecision } from './quantized-decision.js';

/**
 * MatMul(A, W[K, N]) -> com.microsoft MatMulNBits(A, B, scales[, zero_points]) with bits = 4
 * (ContribOperators.md, opset com.microsoft v1):
 *   B           uint8 [N, k_blocks, block_size/2]: each output column's codes in K order, low nibble first,
 *               K padded to whole blocks;
 *   scales      float32 [N, k_blocks] (A's type);
 *   zero_points uint8 [N, ceil(k_blocks/2)], packed like B; absent when symmetric (implicit 8).
 * Gemm is not covered: MatMulNBits has no transB/alpha/beta/C.
 */

export const MICROSOFT_DOMAIN = 'com.microsoft';
const BITS = 4;

export const MATMUL_TO_MATMUL_NBITS: Int4Rewriter = {
  opType: 'MatMul',
  inputIndex: 1,

  skipReason(use) {
    if (use.dims.length !== 2) return `MatMulNBits needs a 2-D [K, N] weight, this one is [${use.dims.join(', ')}]`;
    return undefined;
  },

  rewrite(model, target, settings) {
    const [rows, columns] = target.dims as [number, number];
    const { blockSize, symmetric } = settings;
    const layout: BlockLayout = { rows, columns, blockSize };
    const blocks = blockCount(layout);
    const name = target.weight.name ?? 'weight';
    const packed: TensorProto = { name: target.uniqueName(`${name}_Q4`), data_type: ONNX_TYPE.UINT8, dims: [columns, blocks, blockSize / 2] };
    const scales: TensorProto = { name: target.uniqueName(`${name}_scales`), data_type: ONNX_TYPE.FLOAT32, dims: [columns, blocks] };
    const zeroPoints: TensorProto | undefined = symmetric
      ? undefined
      : { name: target.uniqueName(`${name}_zero_points`), data_type: ONNX_TYPE.UINT8, dims: [columns, Math.ceil(blocks / 2)] };
    const outputs = [packed, scales, ...(zeroPoints ? [zeroPoints] : [])];

    target.owner.removeInitializer(name);
    for (const tensor of outputs) target.home.addInitializer(tensor);
    const attributes = {
      K: rows,
      N: columns,
      bits: BITS,
      block_size: blockSize,
      ...(settings.accuracyLevel !== undefined ? { accuracy_level: { int: settings.accuracyLevel } } : {}),
    };
    for (const { graph, node } of target.consumers) {
      const inputs = [node.input![0]!, packed.name!, scales.name!, ...(zeroPoints ? [zeroPoints.name!] : [])];
      graph.replaceNode(node, [makeNode('MatMulNBits', inputs, [...node.output!], attributes, { name: node.name, domain: MICROSOFT_DOMAIN })]);
    }
    ensureOpset(model.proto, MICROSOFT_DOMAIN, 1);

    const grid = INT4_GRIDS[symmetric ? 'uint4-symmetric' : 'uint4-asymmetric'];
    deferQuantization(model, target.weight, outputs, (values) => {
      const quantized = settings.algorithm.quantize(values, layout, grid);
      return [
        packMatMulNBitsWeight(quantized.codes, layout, quantized.zeroPoints),
        bytesOf(transposeMatrix(quantized.scales, blocks, columns)),
        ...(zeroPoints ? [packMatMulNBitsZeroPoints(quantized.zeroPoints, layout)] : []),
      ];
    });

    return quantizedDecision(target.weight, { name: target.consumers[0]!.node.name, opType: 'MatMul' }, `int4 block ${blockSize} MatMulNBits`, outputs, { K: rows, N: columns, symmetric, nodes: target.consumers.length });
  },
};
