import { ONNX_TYPE } from '../../onnx/data-types.js';
import { makeNode } from '../../onnx/builders.js';
import { opsetVersion } from '../../onnx/graph.js';
import { allGraphs } from '../../onnx/graph-walk.js';
import type { NodeProto, ModelProto, TensorProto } from '../../onnx/onnx-proto.js';
import type { BlockLayout } from '../algorithms/quantization-grid.js';
import { blockCount } from '../algorithms/quantization-grid.js';
import { INT4_GRIDS } from '../kernels/int4-grids.js';
import { packNibbles } from '../kernels/nibble-packing.js';
import { bytesOf, deferQuantization } from './deferred-quantization.js';
import type { Int4Preparation, Int4Rewriter } from './int4-blockwise.js';
import { quantizedDecision } from './quantized-decision.js';

/**
 * MatMul(A, W[K, N]) -> MatMul(A, DequantizeLinear(x, scale[, zero_point], axis=0, block_size=B)), the
 * portable int4 form (onnx Operators.md, DequantizeLinear-21):
 *   x          int4 [K, N] (symmetric, no zero point) or uint4 [K, N] with a uint4 zero point;
 *   scale      float32 [ceil(K/B), N]; the last block may be partial, so K need not be a multiple of B;
 *   zero_point uint4 [ceil(K/B), N];
 * all INT4/UINT4 data packed over the flattened tensor, first element in the low nibble. onnxruntime fuses
 * the pair into MatMulNBits where it can.
 */

/** DequantizeLinear gained block_size and the int4/uint4 types in opset 21. */
const BLOCKED_DEQUANTIZE_OPSET = 21;
/** INT4/UINT4 tensors and opset 21 belong to IR version 10 (onnx 1.16). */
const INT4_IR_VERSION = 10;
/** Below this the distance to opset 21 crosses too many changed operators to raise the import blindly. */
const LOWEST_RAISABLE_OPSET = 13;

/**
 * Operators of the default domain whose meaning changed between opset 13 and 21, so that a node written for
 * the model's old opset would be invalid or compute something else once the import says 21. `breaks`
 * returns why (undefined when this node is unaffected, e.g. it already uses the newer form).
 */
interface OpsetChange {
  opTypes: string[];
  /** The opset whose version of the operator differs from earlier ones. */
  since: number;
  breaks(node: NodeProto): string | undefined;
}

const hasAttribute = (node: NodeProto, name: string) => (node.attribute ?? []).some((attribute) => attribute.name === name);
const stringAttribute = (node: NodeProto, name: string) => {
  const bytes = node.attribute?.find((attribute) => attribute.name === name)?.s;
  return bytes ? new TextDecoder().decode(bytes) : undefined;
};

const OPSET_CHANGES_UP_TO_21: OpsetChange[] = [
  {
    opTypes: ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'],
    since: 18,
    breaks: (node) => (hasAttribute(node, 'axes') ? 'takes axes as an input from opset 18, not an attribute' : undefined),
  },
  {
    opTypes: ['Split'],
    since: 18,
    breaks: (node) => (node.input?.[1] || hasAttribute(node, 'num_outputs') ? undefined : 'needs num_outputs from opset 18 when no split sizes are given'),
  },
  {
    opTypes: ['RoiAlign'],
    since: 16,
    breaks: (node) => (hasAttribute(node, 'coordinate_transformation_mode') ? undefined : 'changed its default coordinate_transformation_mode in opset 16'),
  },
  {
    opTypes: ['GridSample'],
    since: 20,
    breaks: (node) => (['bilinear', 'bicubic'].includes(stringAttribute(node, 'mode') ?? '') ? 'renamed its modes in opset 20' : undefined),
  },
  { opTypes: ['DFT'], since: 20, breaks: () => 'takes axis as an input from opset 20' },
  { opTypes: ['GroupNormalization'], since: 21, breaks: () => 'takes per-channel scale and bias from opset 21' },
];

/** The first node that would change meaning if the default opset went from `from` to 21, and why. */
function opsetRaiseBlocker(model: ModelProto, from: number): string | undefined {
  for (const { graph } of allGraphs(model)) {
    for (const node of graph.node ?? []) {
      if (node.domain && node.domain !== 'ai.onnx') continue;
      const change = OPSET_CHANGES_UP_TO_21.find((entry) => entry.since > from && entry.opTypes.includes(node.op_type ?? ''));
      const reason = change?.breaks(node);
      if (reason) return `${node.op_type} node '${node.name ?? ''}' ${reason}`;
    }
  }
  return undefined;
}

/**
 * Raise the default-domain import to 21 where that keeps every node's meaning: from 13 on, and only when
 * no node uses an operator form that changed since (OPSET_CHANGES_UP_TO_21). Said out loud, since it changes
 * which operator versions the whole graph runs with.
 */
function prepareOpset21(model: { proto: ModelProto }, log: { warn(message: string): void }): Int4Preparation {
  const proto = model.proto;
  const current = opsetVersion(proto, '') ?? opsetVersion(proto, 'ai.onnx') ?? 1;
  const detail: Record<string, string> = {};
  if (current < BLOCKED_DEQUANTIZE_OPSET) {
    const needs = `DequantizeLinear with block_size needs ONNX opset ${BLOCKED_DEQUANTIZE_OPSET}`;
    if (current < LOWEST_RAISABLE_OPSET) {
      return { skipReason: `${needs}; the model imports opset ${current} (raised only from ${LOWEST_RAISABLE_OPSET} on): use --format ort` };
    }
    const blocker = opsetRaiseBlocker(proto, current);
    if (blocker) return { skipReason: `${needs}; the model imports opset ${current} and ${blocker}: use --format ort` };
    const entry = proto.opset_import!.find((opset) => !opset.domain || opset.domain === 'ai.onnx')!;
    entry.version = BLOCKED_DEQUANTIZE_OPSET;
    detail.opset = `raised from ${current} to ${BLOCKED_DEQUANTIZE_OPSET}`;
    log.warn(`int4 qdq: raised the model's ONNX opset from ${current} to ${BLOCKED_DEQUANTIZE_OPSET} for DequantizeLinear with block_size (no operator in the graph changes meaning)`);
  }
  if (Number(proto.ir_version ?? 0) < INT4_IR_VERSION) {
    detail.irVersion = `raised from ${proto.ir_version} to ${INT4_IR_VERSION}`;
    proto.ir_version = INT4_IR_VERSION;
  }
  return { detail };
}

export const MATMUL_TO_BLOCKED_DEQUANTIZE_LINEAR: Int4Rewriter = {
  opType: 'MatMul',
  inputIndex: 1,

  skipReason(use) {
    if (use.dims.length !== 2) return `block-wise DequantizeLinear before MatMul needs a 2-D [K, N] weight, this one is [${use.dims.join(', ')}]`;
    return undefined;
  },

  prepare: prepareOpset21,

  rewrite(model, target, settings) {
    const [rows, columns] = target.dims as [number, number];
    const { blockSize, symmetric } = settings;
    const layout: BlockLayout = { rows, columns, blockSize };
    const blocks = blockCount(layout);
    const name = target.weight.name ?? 'weight';
    const codeType = symmetric ? ONNX_TYPE.INT4 : ONNX_TYPE.UINT4;
    const codes: TensorProto = { name: target.uniqueName(`${name}_int4`), data_type: codeType, dims: [rows, columns] };
    const scales: TensorProto = { name: target.uniqueName(`${name}_scale`), data_type: ONNX_TYPE.FLOAT32, dims: [blocks, columns] };
    const zeroPoints: TensorProto | undefined = symmetric
      ? undefined
      : { name: target.uniqueName(`${name}_zero_point`), data_type: ONNX_TYPE.UINT4, dims: [blocks, columns] };
    const outputs = [codes, scales, ...(zeroPoints ? [zeroPoints] : [])];

    target.owner.removeInitializer(name);
    for (const tensor of outputs) target.home.addInitializer(tensor);
    // One DequantizeLinear next to the tensors, first in the graph (it reads initializers only); readers in
    // nested bodies see its output as an outer-scope value.
    const dequantized = target.uniqueName(`${name}_dequantized`);
    const inputs = [codes.name!, scales.name!, ...(zeroPoints ? [zeroPoints.name!] : [])];
    const dequantize = makeNode('DequantizeLinear', inputs, [dequantized], { axis: 0, block_size: blockSize }, { name: target.uniqueName(`${name}_DequantizeLinear`) });
    target.home.insertNode(dequantize, target.home.nodes[0]);
    for (const { graph, node } of target.consumers) {
      node.input![1] = dequantized;
      graph.invalidate();
    }

    const grid = INT4_GRIDS[symmetric ? 'int4-symmetric' : 'uint4-asymmetric'];
    deferQuantization(model, target.weight, outputs, (values) => {
      const quantized = settings.algorithm.quantize(values, layout, grid);
      return [packNibbles(quantized.codes), bytesOf(quantized.scales), ...(zeroPoints ? [packNibbles(quantized.zeroPoints)] : [])];
    });

    return quantizedDecision(target.weight, { name: target.consumers[0]!.node.name, opType: 'MatMul' }, `int4 block ${blockSize} DequantizeLinear`, outputs, { K: rows, N: columns, symmetric, codeType: symmetric ? 'int4' : 'uint4', nodes: target.consumers.length });
  },
};
