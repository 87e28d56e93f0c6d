import { makeInt64Tensor, makeNode } from '../../onnx/builders.js';
import { ONNX_TYPE } from '../../onnx/data-types.js';
import { ensureOpset, OnnxGraph, opsetVersion } from '../../onnx/graph.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { NodeProto, TensorProto } from '../../onnx/onnx-proto.js';
import { tensorByteLength } from '../../onnx/tensor-data.js';
import type { WeightAlgorithm } from '../algorithms/weight-algorithms.js';
import { weightAlgorithm } from '../algorithms/weight-algorithms.js';
import { INT8_GRIDS, Int8Grid, int8WeightGrid } from '../kernels/int8-grids.js';
import type { TensorDecision } from '../quantize-report.js';
import type { OnnxSchemeContext } from '../schemes.js';
import { bytesOf, deferQuantization } from './deferred-quantization.js';
import {
  bytesOfTensors,
  describeGranularity,
  findWeightGroups,
  floatAttribute,
  intAttribute,
  quantizeAlongAxis,
  skippedGroup,
  sortTouchedGraphs,
  WeightGroup,
} from './qdq-weights.js';
import { ValueNames } from '../../onnx/value-names.js';
import type { WeightUse } from './weight-uses.js';
import { quantizedDecision } from './quantized-decision.js';
import { raiseOpsetForScheme } from './raise-opset.js';

/**
 * --scheme int8-dynamic: int8 weights, activations quantized at run time from their own min/max, as
 * onnxruntime's quantize_dynamic does. With ONNX opset >= 11 a MatMul/Gemm becomes the standard ops
 *   DynamicQuantizeLinear(A) -> MatMulInteger(A_q, B_q, A_zp, B_zp) -> Cast(float) -> Mul(A_scale * B_scale)
 * which every runtime can run and which ORT fuses into com.microsoft.DynamicQuantizeMatMul at load
 * (dynamic_quantize_matmul_fusion.cc). Opset < 11 has no DynamicQuantizeLinear, so there the MatMul becomes
 * com.microsoft.DynamicQuantizeMatMul itself (ORT-only, but the model cannot say it otherwise).
 * Weights are int8 symmetric with a scale and zero point per output column (uint8 with --asymmetric).
 *
 * Conv becomes DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul(scales) [-> Add(bias)]. ORT implements
 * ConvInteger for uint8 x uint8 only (u8s8 fails with NOT_IMPLEMENTED, onnxruntime #3130 / #6430) and only
 * with a per-tensor w_zero_point, so Conv weights are uint8 around a shared zero point 128 with a scale
 * per output channel applied after the integer convolution (uint8 asymmetric per tensor without
 * per-channel). u8s8 ConvInteger is never written.
 */

const WEIGHT_INPUTS = { MatMul: 1, Gemm: 1, Conv: 1 };

function dynamicCheck(use: WeightUse): string | undefined {
  const { node, dims } = use;
  if (node.op_type === 'Conv') return dims.length < 3 ? `Conv weight of rank ${dims.length}, expected 3 or more` : undefined;
  if (dims.length !== 2) return `${node.op_type} weight of rank ${dims.length}: MatMulInteger's per-column zero point needs a 2-D weight`;
  if (node.op_type === 'Gemm' && intAttribute(node, 'transA', 0)) return 'Gemm with transA=1 (the activation would need a Transpose)';
  return undefined;
}

/** What the uses of one weight must agree on to share one quantized copy. */
function layoutKey(node: NodeProto): string {
  return node.op_type === 'Gemm' ? `Gemm transB=${intAttribute(node, 'transB', 0)} alpha=${floatAttribute(node, 'alpha', 1)}` : node.op_type!;
}

interface ActivationQuantization {
  quantized: string;
  scale: string;
  zeroPoint: string;
}

/** One DynamicQuantizeLinear per activation and graph, shared by every consumer. */
class DynamicActivations {
  private readonly made = new Map<OnnxGraph, Map<string, ActivationQuantization>>();

  constructor(private readonly valueNames: ValueNames) {}

  quantize(graph: OnnxGraph, value: string, consumer: NodeProto): ActivationQuantization {
    let perGraph = this.made.get(graph);
    if (!perGraph) this.made.set(graph, (perGraph = new Map()));
    let made = perGraph.get(value);
    if (!made) {
      const fresh = (suffix: string) => this.valueNames.fresh(`${value}_${suffix}`);
      made = { quantized: fresh('quantized'), scale: fresh('scale'), zeroPoint: fresh('zero_point') };
      graph.insertNode(makeNode('DynamicQuantizeLinear', [value], [made.quantized, made.scale, made.zeroPoint]), consumer);
      perGraph.set(value, made);
    }
    return made;
  }
}

interface QuantizedWeightTensors {
  codes: TensorProto;
  scale: TensorProto;
  zeroPoint: TensorProto;
}

/**
 * Store the group's weight as codes [K, N] (or Conv's own layout), scales and zero points, computed at
 * save time. `transpose` turns Gemm's transB=1 weight [N, K] into MatMulInteger's [K, N]; `alpha` is
 * Gemm's, folded into the scales.
 */
function storeQuantizedWeight(
  model: OnnxModel,
  valueNames: ValueNames,
  group: WeightGroup,
  grid: Int8Grid,
  algorithm: WeightAlgorithm,
  layout: { axis: number | undefined; transpose: boolean; alpha: number; scaleDims: number[]; zeroPointDims: number[] },
): QuantizedWeightTensors {
  const { weightGraph, weight } = group;
  const name = weight.name ?? '';
  const dims = layout.transpose ? [group.dims[1]!, group.dims[0]!] : group.dims;
  const tensors: QuantizedWeightTensors = {
    codes: { name: valueNames.fresh(`${name}_quantized`), dims, data_type: grid.dataType },
    scale: { name: valueNames.fresh(`${name}_scale`), dims: layout.scaleDims, data_type: ONNX_TYPE.FLOAT32 },
    zeroPoint: { name: valueNames.fresh(`${name}_zero_point`), dims: layout.zeroPointDims, data_type: grid.dataType },
  };
  weightGraph.removeInitializer(name);
  for (const tensor of Object.values(tensors)) weightGraph.addInitializer(tensor);
  const zeroPointCount = layout.zeroPointDims.reduce((product, dim) => product * dim, 1);
  deferQuantization(model, weight, [tensors.codes, tensors.scale, tensors.zeroPoint], (values) => {
    const matrix = layout.transpose ? transpose(values, group.dims[0]!, group.dims[1]!) : values;
    const result = quantizeAlongAxis(matrix, dims, layout.axis, grid, algorithm);
    const scales = layout.alpha === 1 ? result.scales : result.scales.map((scale) => Math.fround(scale * layout.alpha));
    return [result.codes, bytesOf(scales), grid.pack(result.zeroPoints.subarray(0, zeroPointCount))];
  });
  return tensors;
}

function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const result = new Float32Array(values.length);
  for (let row = 0; row < rows; row++) for (let column = 0; column < columns; column++) result[column * rows + row] = values[row * columns + column]!;
  return result;
}

/** Gemm's C term (beta * C), added after the product; undefined without C. */
function gemmBias(valueNames: ValueNames, graph: OnnxGraph, node: NodeProto): { nodes: NodeProto[]; value: string } | undefined {
  const bias = node.input?.[2];
  if (!bias) return undefined;
  const beta = floatAttribute(node, 'beta', 1);
  if (beta === 1) return { nodes: [], value: bias };
  const betaName = valueNames.fresh(`${node.output![0]}_beta`);
  graph.addInitializer({ name: betaName, dims: [], data_type: ONNX_TYPE.FLOAT32, raw_data: bytesOf(Float32Array.of(beta)) });
  const scaled = valueNames.fresh(`${bias}_times_beta`);
  return { nodes: [makeNode('Mul', [bias, betaName], [scaled])], value: scaled };
}

type Rewrite = (context: RewriteContext, group: WeightGroup) => TensorDecision | string;

interface RewriteContext {
  model: OnnxModel;
  valueNames: ValueNames;
  grid: Int8Grid;
  algorithm: WeightAlgorithm;
  perChannel: boolean;
  activations: DynamicActivations;
}

function decision(group: WeightGroup, storage: string, tensors: TensorProto[]): TensorDecision {
  const first = group.uses[0]!.node;
  return quantizedDecision(group.weight, { name: first.name, opType: first.op_type ?? '' }, storage, tensors);
}

/** MatMul / Gemm -> DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add for Gemm's C). */
const toMatMulInteger: Rewrite = ({ model, valueNames, grid, algorithm, perChannel, activations }, group) => {
  const first = group.uses[0]!.node;
  const transpose = first.op_type === 'Gemm' && intAttribute(first, 'transB', 0) === 1;
  const columns = transpose ? group.dims[0]! : group.dims[1]!;
  const perColumn = perChannel ? [columns] : [];
  const alpha = first.op_type === 'Gemm' ? floatAttribute(first, 'alpha', 1) : 1;
  const stored = storeQuantizedWeight(model, valueNames, group, grid, algorithm, { axis: perChannel ? 1 : undefined, transpose, alpha, scaleDims: perColumn, zeroPointDims: perColumn });
  for (const { node, graph } of group.uses) {
    const output = node.output![0]!;
    const activation = activations.quantize(graph, node.input![0]!, node);
    const value = (base: string) => valueNames.fresh(`${output}_${base}`);
    const [integer, float, scale] = [value('int32'), value('float'), value('scale')];
    const bias = node.op_type === 'Gemm' ? gemmBias(valueNames, graph, node) : undefined;
    const product = bias ? value('product') : output;
    graph.replaceNode(node, [
      makeNode('MatMulInteger', [activation.quantized, stored.codes.name!, activation.zeroPoint, stored.zeroPoint.name!], [integer], {}, { name: `${node.name ?? output}_MatMulInteger` }),
      makeNode('Cast', [integer], [float], { to: ONNX_TYPE.FLOAT32! }),
      makeNode('Mul', [activation.scale, stored.scale.name!], [scale]),
      makeNode('Mul', [float, scale], [product]),
      ...(bias ? [...bias.nodes, makeNode('Add', [product, bias.value], [output])] : []),
    ]);
  }
  return decision(group, `${grid.name} ${describeGranularity(perChannel ? 1 : undefined)} (DynamicQuantizeLinear + MatMulInteger)`, Object.values(stored));
};

/** MatMul / Gemm -> com.microsoft.DynamicQuantizeMatMul, for opsets without DynamicQuantizeLinear. */
const toDynamicQuantizeMatMul: Rewrite = ({ model, valueNames, grid, algorithm, perChannel }, group) => {
  const first = group.uses[0]!.node;
  const transpose = first.op_type === 'Gemm' && intAttribute(first, 'transB', 0) === 1;
  const columns = transpose ? group.dims[0]! : group.dims[1]!;
  const perColumn = perChannel ? [columns] : [];
  const alpha = first.op_type === 'Gemm' ? floatAttribute(first, 'alpha', 1) : 1;
  ensureOpset(model.proto, 'com.microsoft', 1);
  const stored = storeQuantizedWeight(model, valueNames, group, grid, algorithm, { axis: perChannel ? 1 : undefined, transpose, alpha, scaleDims: perColumn, zeroPointDims: perColumn });
  for (const { node, graph } of group.uses) {
    const output = node.output![0]!;
    const bias = node.op_type === 'Gemm' ? gemmBias(valueNames, graph, node) : undefined;
    const product = bias ? valueNames.fresh(`${output}_product`) : output;
    graph.replaceNode(node, [
      makeNode('DynamicQuantizeMatMul', [node.input![0]!, stored.codes.name!, stored.scale.name!, stored.zeroPoint.name!], [product], {}, { name: `${node.name ?? output}_DynamicQuantizeMatMul`, domain: 'com.microsoft' }),
      ...(bias ? [...bias.nodes, makeNode('Add', [product, bias.value], [output])] : []),
    ]);
  }
  return decision(group, `${grid.name} ${describeGranularity(perChannel ? 1 : undefined)} (com.microsoft.DynamicQuantizeMatMul)`, Object.values(stored));
};

/** Conv -> DynamicQuantizeLinear + ConvInteger (u8u8) + Cast + Mul(scales) (+ Add(bias)). */
const toConvInteger: Rewrite = ({ model, valueNames, algorithm, perChannel, activations }, group) => {
  const grid = perChannel ? INT8_GRIDS.uint8Offset128 : INT8_GRIDS.uint8Asymmetric;
  const channels = group.dims[0]!;
  // Broadcast against the output [N, M, spatial...]: [M, 1, ...].
  const scaleDims = perChannel ? [channels, ...group.dims.slice(2).map(() => 1)] : [];
  const stored = storeQuantizedWeight(model, valueNames, group, grid, algorithm, { axis: perChannel ? 0 : undefined, transpose: false, alpha: 1, scaleDims, zeroPointDims: [] });
  for (const { node, graph } of group.uses) {
    const output = node.output![0]!;
    const activation = activations.quantize(graph, node.input![0]!, node);
    const value = (base: string) => valueNames.fresh(`${output}_${base}`);
    const [integer, float, scale] = [value('int32'), value('float'), value('scale')];
    const bias = node.input?.[2];
    const product = bias ? value('product') : output;
    const biasNodes: NodeProto[] = [];
    if (bias) {
      const shape = makeInt64Tensor(valueNames.fresh(`${output}_bias_shape`), [group.dims.length], [1, -1, ...group.dims.slice(2).map(() => 1)]);
      graph.addInitializer(shape);
      const reshaped = value('bias');
      biasNodes.push(makeNode('Reshape', [bias, shape.name!], [reshaped]), makeNode('Add', [product, reshaped], [output]));
    }
    const convInteger = makeNode('ConvInteger', [activation.quantized, stored.codes.name!, activation.zeroPoint, stored.zeroPoint.name!], [integer], {}, { name: `${node.name ?? output}_ConvInteger` });
    // ConvInteger takes Conv's attributes as they are (kernel_shape, pads, strides, dilations, group, auto_pad).
    convInteger.attribute = [...(node.attribute ?? [])];
    graph.replaceNode(node, [
      convInteger,
      makeNode('Cast', [integer], [float], { to: ONNX_TYPE.FLOAT32! }),
      makeNode('Mul', [activation.scale, stored.scale.name!], [scale]),
      makeNode('Mul', [float, scale], [product]),
      ...biasNodes,
    ]);
  }
  return decision(group, `${grid.name} ${describeGranularity(perChannel ? 0 : undefined)} (DynamicQuantizeLinear + ConvInteger u8u8)`, Object.values(stored));
};

/** Which rewrite each op gets at the model's opset, or why it has none. */
function rewriteFor(opType: string, opset: number): Rewrite | string {
  if (opType === 'Conv') return opset >= 11 ? toConvInteger : `ConvInteger with DynamicQuantizeLinear needs ONNX opset 11, the model imports ${opset}`;
  return opset >= 11 ? toMatMulInteger : toDynamicQuantizeMatMul;
}

export async function quantizeInt8Dynamic(context: OnnxSchemeContext): Promise<TensorDecision[]> {
  const { model, options } = context;
  const { groups, skipped } = findWeightGroups(model, WEIGHT_INPUTS, options.selection, dynamicCheck);
  if (groups.some((group) => group.uses.some((use) => use.node.op_type === 'Conv'))) {
    raiseOpsetForScheme(context, 11, 'ConvInteger is fed by DynamicQuantizeLinear, which arrives in opset 11');
  }
  const opset = opsetVersion(model.proto, '') ?? 1;
  const valueNames = new ValueNames(model.proto);
  const rewriteContext: RewriteContext = {
    model,
    valueNames,
    grid: int8WeightGrid(options.symmetric),
    algorithm: weightAlgorithm(options.algo),
    perChannel: options.perChannel,
    activations: new DynamicActivations(valueNames),
  };
  const decisions: TensorDecision[] = [...skipped];
  for (const group of groups) {
    const layouts = new Set(group.uses.map((use) => layoutKey(use.node)));
    if (layouts.size > 1) {
      decisions.push(skippedGroup(group, `read by ops needing different layouts (${[...layouts].join('; ')})`));
      continue;
    }
    const rewrite = rewriteFor(group.uses[0]!.node.op_type!, opset);
    const result = typeof rewrite === 'string' ? rewrite : rewrite(rewriteContext, group);
    decisions.push(typeof result === 'string' ? skippedGroup(group, result) : result);
  }
  sortTouchedGraphs(groups);
  return decisions;
}
