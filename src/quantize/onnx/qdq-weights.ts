import { ONNX_TYPE } from '../../onnx/data-types.js';
import { makeNode } from '../../onnx/builders.js';
import { ensureOpset, OnnxGraph, opsetVersion, outerReferences } from '../../onnx/graph.js';
import { allGraphs, subgraphsOfNode } from '../../onnx/graph-walk.js';
import { ValueNames } from '../../onnx/value-names.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../onnx/onnx-proto.js';
import { tensorByteLength } from '../../onnx/tensor-data.js';
import type { WeightAlgorithm } from '../algorithms/weight-algorithms.js';
import type { Int8Grid } from '../kernels/int8-grids.js';
import type { TensorDecision } from '../quantize-report.js';
import type { WeightSelection } from '../weight-selection.js';
import { bytesOf, deferQuantization } from './deferred-quantization.js';
import { findWeightUses, WeightInputs, WeightUse } from './weight-uses.js';
import { quantizedDecision } from './quantized-decision.js';

/**
 * 8-bit weights stored as integers with a dequantization in front of their consumer ("QDQ weights"): the
 * int8 weight-only and int8-static schemes share it. The same arithmetic, (code - zero point) * scale, has
 * three spellings, chosen by what the model's opset can say (see DEQUANTIZE_SPELLINGS).
 */

export function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const value = node.attribute?.find((attribute) => attribute.name === name)?.i;
  return value === undefined ? fallback : Number(value);
}

export function floatAttribute(node: NodeProto, name: string, fallback: number): number {
  const value = node.attribute?.find((attribute) => attribute.name === name)?.f;
  return value === undefined ? fallback : value;
}

/** The axis of a weight that holds its consumer's output channels: one scale per channel along it. */
export const OUTPUT_CHANNEL_AXIS: Record<string, (node: NodeProto, dims: number[]) => number> = {
  // B [..., K, N]: one scale per output column N (ORT: QDQOpTypePerChannelSupportToAxis {MatMul: 1}).
  MatMul: (_node, dims) => dims.length - 1,
  // B is [K, N], or [N, K] when transB=1.
  Gemm: (node) => (intAttribute(node, 'transB', 0) ? 0 : 1),
  // W [M, C/group, k...]: output channel M.
  Conv: () => 0,
};

export interface WeightGroup {
  /** The graph holding the weight's initializer (each use's node may sit in a subgraph of it). */
  weightGraph: OnnxGraph;
  weight: TensorProto;
  dims: number[];
  /** Every consumer (all rewritable, as findWeightUses guarantees). */
  uses: WeightUse[];
}

/**
 * Weights a scheme may rewrite, one entry per weight with all its uses. Outer-scope weights read only by
 * one subgraph are first moved into it (see moveOuterWeightsIntoSubgraphs).
 */
export function findWeightGroups(
  model: OnnxModel,
  inputs: WeightInputs,
  selection: WeightSelection,
  check: (use: WeightUse) => string | undefined,
): { groups: WeightGroup[]; skipped: TensorDecision[] } {
  moveOuterWeightsIntoSubgraphs(model.proto, inputs);
  const { eligible, skipped } = findWeightUses(model, {
    inputs,
    selection,
    check: (use) => (use.dims.reduce((product, dim) => product * dim, 1) === 0 ? 'has no elements' : check(use)),
  });
  const groups = new Map<TensorProto, WeightGroup>();
  for (const use of eligible) {
    const group = groups.get(use.weight);
    if (group) group.uses.push(use);
    else groups.set(use.weight, { weightGraph: use.weightGraph, weight: use.weight, dims: use.dims, uses: [use] });
  }
  return { groups: [...groups.values()], skipped };
}

/**
 * A weight kept in an outer graph but read only inside one subgraph of one node (an If branch, a Loop
 * body) is moved into that subgraph's initializers: the graph computes the same thing, and the stored codes
 * and their DequantizeLinear then sit beside the MatMul that reads them, where ORT's QDQ fusions look (they
 * do not look across graph boundaries). Parents are visited before their subgraphs, so a weight sinks as
 * deep as its readers go. Weights read from several graphs stay where they are (see dequantizeWeightGroup).
 */
export function moveOuterWeightsIntoSubgraphs(model: ModelProto, inputs: WeightInputs): number {
  let moved = 0;
  for (const { graph: proto } of allGraphs(model)) {
    const graph = new OnnxGraph(proto);
    const graphInputs = new Set(proto.input!.map((input) => input.name));
    for (const weight of [...proto.initializer!]) {
      const name = weight.name ?? '';
      if (graphInputs.has(name) || graph.isGraphOutput(name)) continue;
      const consumers = graph.consumers(name);
      if (consumers.length !== 1 || consumers[0]!.input?.includes(name)) continue;
      const readers = subgraphsOfNode(consumers[0]!).filter((subgraph) => outerReferences(subgraph).has(name));
      if (readers.length !== 1 || !readsAsWeight(readers[0]!, name, inputs)) continue;
      graph.removeInitializer(name);
      readers[0]!.initializer = [...(readers[0]!.initializer ?? []), weight];
      moved++;
    }
  }
  return moved;
}

function readsAsWeight(graph: GraphProto, name: string, inputs: WeightInputs): boolean {
  return (graph.node ?? []).some(
    (node) =>
      (!node.domain && inputs[node.op_type ?? ''] !== undefined && node.input?.[inputs[node.op_type!]!] === name) ||
      subgraphsOfNode(node).some((subgraph) => readsAsWeight(subgraph, name, inputs)),
  );
}

/** The channel axis every use of the weight agrees on, or a reason why there is none. */
export function commonChannelAxis(group: WeightGroup): number | string {
  const axes = new Set(group.uses.map((use) => OUTPUT_CHANNEL_AXIS[use.node.op_type!]!(use.node, use.dims)));
  if (axes.size > 1) return `its consumers need different channel axes (${[...axes].join(', ')})`;
  return [...axes][0]!;
}

// ------------------------------------------------------------------------------------------ quantizing

export interface ChannelQuantization {
  /** Codes in the weight's own layout, packed as the grid's type. */
  codes: Uint8Array;
  /** One per channel (one in all for per-tensor). */
  scales: Float32Array;
  zeroPoints: Int16Array;
  /** The float values the runtime will compute from the codes, in the weight's own layout. */
  dequantized(): Float32Array;
}

/** (code - zero point) * scale for codes in the weight's layout; `channelOf` maps an element to its scale. */
function dequantizeCodes(codes: ArrayLike<number>, scales: Float32Array, zeroPoints: Int16Array, channelOf: (index: number) => number): Float32Array {
  const values = new Float32Array(codes.length);
  for (let index = 0; index < codes.length; index++) {
    const channel = channelOf(index);
    values[index] = Math.fround((codes[index]! - zeroPoints[channel]!) * scales[channel]!);
  }
  return values;
}

/**
 * Quantize a weight with one scale per slice along `axis` (undefined: one for the whole tensor). The
 * algorithms work on a [rows, columns] matrix with a block per column, so the channel axis is moved last
 * (a copy only when it is not last already) and the codes are moved back.
 */
export function quantizeAlongAxis(values: Float32Array, dims: number[], axis: number | undefined, grid: Int8Grid, algorithm: WeightAlgorithm): ChannelQuantization {
  const count = values.length;
  if (axis === undefined) {
    const result = algorithm.quantize(values, { rows: count, columns: 1, blockSize: count }, grid);
    return {
      codes: grid.pack(result.codes),
      scales: result.scales,
      zeroPoints: result.zeroPoints,
      dequantized: () => dequantizeCodes(result.codes, result.scales, result.zeroPoints, () => 0),
    };
  }
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((product, dim) => product * dim, 1);
  const outer = count / (channels * inner);
  const rows = outer * inner;
  const toMatrix = (index: number) => {
    const o = Math.floor(index / (channels * inner));
    const c = Math.floor(index / inner) % channels;
    return (o * inner + (index % inner)) * channels + c;
  };
  let matrix = values;
  if (inner !== 1) {
    matrix = new Float32Array(count);
    for (let index = 0; index < count; index++) matrix[toMatrix(index)] = values[index]!;
  }
  const result = algorithm.quantize(matrix, { rows, columns: channels, blockSize: rows }, grid);
  let codes = result.codes;
  if (inner !== 1) {
    codes = new Int16Array(count);
    for (let index = 0; index < count; index++) codes[index] = result.codes[toMatrix(index)]!;
  }
  return {
    codes: grid.pack(codes),
    scales: result.scales,
    zeroPoints: result.zeroPoints,
    dequantized: () => dequantizeCodes(codes, result.scales, result.zeroPoints, (index) => Math.floor(index / inner) % channels),
  };
}

// ------------------------------------------------------------------------------------------ spellings

interface StoredNames {
  codes: string;
  scale: string;
  zeroPoint?: string;
  output: string;
}

export interface DequantizeSpelling {
  name: string;
  /** Domain of the Q/DQ ops it uses ('' for the ONNX default domain); undefined when it has none. */
  domain?: string;
  /** Why it cannot express this granularity on this model, or undefined when it can. */
  unavailable(model: ModelProto, perChannel: boolean): string | undefined;
  /** Dims of the scale (and zero point) tensors for a weight of `dims` quantized along `axis`. */
  parameterDims(dims: number[], axis: number | undefined): number[];
  /** Element type the zero point is stored as; undefined when the grid's zero point is 0 and can be left out. */
  zeroPointType(grid: Int8Grid): number | undefined;
  nodes(names: StoredNames, axis: number | undefined, valueNames: ValueNames): NodeProto[];
}

function defaultOpset(model: ModelProto): number {
  return opsetVersion(model, '') ?? 1;
}

const perChannelDims = (dims: number[], axis: number | undefined) => (axis === undefined ? [] : [dims[axis]!]);

function quantizeLinearPair(domain: string): Pick<DequantizeSpelling, 'parameterDims' | 'zeroPointType' | 'nodes'> {
  return {
    parameterDims: perChannelDims,
    // ORT's QDQ fusions look for an explicit zero point; it costs one byte per channel.
    zeroPointType: (grid) => grid.dataType,
    nodes: (names, axis) => [
      makeNode('DequantizeLinear', [names.codes, names.scale, names.zeroPoint!], [names.output], axis === undefined ? {} : { axis }, { domain }),
    ],
  };
}

/**
 * Every way to write "dequantize this stored weight", declared once:
 * - DequantizeLinear: the ONNX op; per-tensor needs opset 10, an `axis` (per-channel) needs opset 13.
 * - com.microsoft.DequantizeLinear: ORT's contrib op takes `axis` at any opset; for QDQ graphs whose
 *   activations need com.microsoft QuantizeLinear too (opset < 10), so ORT still sees Q/DQ pairs.
 * - Cast+Mul: Cast(codes to float) [- zero point] * scale, the same arithmetic in ops every runtime has had
 *   since opset 6, for weight-only models whose opset predates DequantizeLinear's axis (PP-OCR is opset 9).
 */
export const DEQUANTIZE_SPELLINGS = {
  onnx: {
    name: 'DequantizeLinear',
    domain: '',
    unavailable(model, perChannel) {
      const needed = perChannel ? 13 : 10;
      const opset = defaultOpset(model);
      return opset < needed ? `DequantizeLinear${perChannel ? ' with axis (per-channel)' : ''} needs ONNX opset ${needed}, the model imports ${opset}` : undefined;
    },
    ...quantizeLinearPair(''),
  },
  microsoft: {
    name: 'com.microsoft.DequantizeLinear',
    domain: 'com.microsoft',
    unavailable: () => undefined,
    ...quantizeLinearPair('com.microsoft'),
  },
  castMul: {
    name: 'Cast+Mul',
    unavailable(model) {
      const opset = defaultOpset(model);
      return opset < 6 ? `Cast from int8 needs ONNX opset 6, the model imports ${opset}` : undefined;
    },
    // Shaped to broadcast against the weight: [C, 1, ..., 1] for the axes after the channel axis.
    parameterDims: (dims, axis) => (axis === undefined ? [] : [dims[axis]!, ...dims.slice(axis + 1).map(() => 1)]),
    zeroPointType: (grid) => (grid.fixedZeroPoint && grid.fromRange(-1, 1).zeroPoint === 0 ? undefined : ONNX_TYPE.FLOAT32),
    nodes(names, _axis, valueNames) {
      const cast = valueNames.fresh(`${names.codes}_float`);
      const centred = names.zeroPoint ? valueNames.fresh(`${names.codes}_centred`) : cast;
      return [
        makeNode('Cast', [names.codes], [cast], { to: ONNX_TYPE.FLOAT32! }),
        ...(names.zeroPoint ? [makeNode('Sub', [cast, names.zeroPoint], [centred])] : []),
        makeNode('Mul', [centred, names.scale], [names.output]),
      ];
    },
  },
} as const satisfies Record<string, DequantizeSpelling>;

/** The first spelling in `preference` this model can use, or the reason none can. */
export function chooseSpelling(model: ModelProto, perChannel: boolean, preference: DequantizeSpelling[]): DequantizeSpelling | string {
  const reasons: string[] = [];
  for (const spelling of preference) {
    const reason = spelling.unavailable(model, perChannel);
    if (!reason) return spelling;
    reasons.push(reason);
  }
  return reasons.join('; ');
}

// ------------------------------------------------------------------------------------------ rewriting

export interface DequantizedWeightPlan {
  /** The float value consumers now read. */
  output: string;
  /** New initializers, with name/dims/type but no data yet: codes, scale, zero point (if stored). */
  tensors: TensorProto[];
  nodes: NodeProto[];
  /** The tensors' bytes, in order, from the float values of a weight shaped `dims`, and the scales used. */
  encode(values: Float32Array): EncodedWeight;
}

export interface EncodedWeight {
  bytes: Uint8Array[];
  scales: Float32Array;
  /** The values the runtime will compute from the stored codes (for companions that correct for them). */
  dequantized(): Float32Array;
}

export interface WeightEncoding {
  grid: Int8Grid;
  algorithm: WeightAlgorithm;
  spelling: DequantizeSpelling;
}

/** Tensors and nodes that rebuild a float weight named after `baseName` from 8-bit codes. */
export function planDequantizedWeight(
  model: ModelProto,
  valueNames: ValueNames,
  baseName: string,
  dims: number[],
  axis: number | undefined,
  encoding: WeightEncoding,
): DequantizedWeightPlan {
  const { grid, algorithm, spelling } = encoding;
  if (spelling.domain) ensureOpset(model, spelling.domain, 1);
  const parameterDims = spelling.parameterDims(dims, axis);
  const zeroPointType = spelling.zeroPointType(grid);
  const names: StoredNames = {
    codes: valueNames.fresh(`${baseName}_quantized`),
    scale: valueNames.fresh(`${baseName}_scale`),
    zeroPoint: zeroPointType === undefined ? undefined : valueNames.fresh(`${baseName}_zero_point`),
    output: valueNames.fresh(`${baseName}_dequantized`),
  };
  const tensors: TensorProto[] = [
    { name: names.codes, dims: [...dims], data_type: grid.dataType },
    { name: names.scale, dims: parameterDims, data_type: ONNX_TYPE.FLOAT32 },
    ...(names.zeroPoint ? [{ name: names.zeroPoint, dims: parameterDims, data_type: zeroPointType }] : []),
  ];
  return {
    output: names.output,
    tensors,
    nodes: spelling.nodes(names, axis, valueNames),
    encode(values) {
      const quantized = quantizeAlongAxis(values, dims, axis, grid, algorithm);
      const zeroPoints =
        zeroPointType === ONNX_TYPE.FLOAT32 ? bytesOf(Float32Array.from(quantized.zeroPoints)) : grid.pack(quantized.zeroPoints);
      return {
        bytes: [quantized.codes, bytesOf(quantized.scales), ...(names.zeroPoint ? [zeroPoints] : [])],
        scales: quantized.scales,
        dequantized: quantized.dequantized,
      };
    },
  };
}

/** Insert nodes into `graph` before the earliest of `consumers` found there (at the end when none is). */
export function insertNodesBefore(graph: OnnxGraph, nodes: NodeProto[], consumers: NodeProto[]): void {
  const first = consumers.map((node) => graph.nodes.indexOf(node)).filter((index) => index >= 0).sort((a, b) => a - b)[0];
  const before = first === undefined ? undefined : graph.nodes[first];
  for (const node of nodes) graph.insertNode(node, before);
}

/**
 * Where a weight's dequantization goes: beside its uses when they all sit in one graph, otherwise in the
 * graph holding the weight, whose subgraphs all see its values.
 */
export function dequantizationGraph(group: WeightGroup): OnnxGraph {
  const graphs = new Set(group.uses.map((use) => use.graph));
  return graphs.size === 1 ? [...graphs][0]! : group.weightGraph;
}

export function bytesOfTensors(tensors: TensorProto[]): number {
  return tensors.reduce((sum, tensor) => sum + (tensorByteLength(tensor) ?? 0), 0);
}

export function describeGranularity(axis: number | undefined): string {
  return axis === undefined ? 'per-tensor' : `per-channel axis ${axis}`;
}

/**
 * Tensors computed along with a weight from how it was quantized: a bias quantized with scale
 * a_scale * w_scale (int8-static), a bias corrected for the weight's rounding error (bias-correction.ts).
 */
export interface WeightCompanion {
  tensors: TensorProto[];
  encode(weightScales: Float32Array, weight: { original: Float32Array; encoded: EncodedWeight }): Uint8Array[];
}

/**
 * Replace a weight by its 8-bit codes and a dequantization feeding every consumer. The float values are
 * read and quantized only when the model is saved.
 */
export function dequantizeWeightGroup(
  model: OnnxModel,
  valueNames: ValueNames,
  group: WeightGroup,
  axis: number | undefined,
  encoding: WeightEncoding,
  companion?: WeightCompanion,
): TensorDecision {
  const { weightGraph, weight, dims, uses } = group;
  const name = weight.name ?? '';
  const plan = planDequantizedWeight(model.proto, valueNames, name, dims, axis, encoding);
  const graph = dequantizationGraph(group);
  // Before whichever node of that graph reads the weight first (directly, or inside its subgraphs).
  const readers = graph.consumers(name);
  weightGraph.removeInitializer(name);
  for (const tensor of plan.tensors) weightGraph.addInitializer(tensor);
  insertNodesBefore(graph, plan.nodes, readers);
  for (const use of uses) {
    use.node.input![use.inputIndex] = plan.output;
    use.graph.invalidate();
  }
  weightGraph.invalidate();
  deferQuantization(model, weight, [...plan.tensors, ...(companion?.tensors ?? [])], (values) => {
    const encoded = plan.encode(values);
    return [...encoded.bytes, ...(companion?.encode(encoded.scales, { original: values, encoded }) ?? [])];
  });
  const first = uses[0]!.node;
  return quantizedDecision(
    weight,
    { name: first.name, opType: first.op_type ?? '' },
    `${encoding.grid.name} ${describeGranularity(axis)} (${encoding.spelling.name})`,
    plan.tensors,
  );
}

/** Sort every graph a rewrite touched, so inserted (and shared) nodes come before their readers. */
export function sortTouchedGraphs(groups: WeightGroup[]): void {
  const graphs = new Set(groups.flatMap((group) => [group.weightGraph, ...group.uses.map((use) => use.graph)]));
  for (const graph of graphs) {
    graph.invalidate();
    graph.sortTopologically();
  }
}

/** A weight left float, for the report. */
export function skippedGroup(group: WeightGroup, reason: string): TensorDecision {
  const first = group.uses[0]!.node;
  const bytes = tensorByteLength(group.weight) ?? 0;
  return {
    weight: group.weight.name ?? '',
    node: first.name,
    opType: first.op_type,
    action: 'skipped',
    reason,
    elements: group.dims.reduce((product, dim) => product * dim, 1),
    bytesBefore: bytes,
    bytesAfter: bytes,
  };
}
