import { makeNode, makeTensor } from '../../onnx/builders.js';
import { ONNX_TYPE } from '../../onnx/data-types.js';
import { OnnxGraph } from '../../onnx/graph.js';
import { ATTRIBUTE_TYPE, type ModelProto, type NodeProto, type TensorProto } from '../../onnx/onnx-proto.js';
import { decodeTensorAsFloat32, tensorDims } from '../../onnx/tensor-data.js';
import { composePerms, invertPerm, isIdentityPerm, permuteValues, samePerm } from './transpose-perms.js';

/**
 * The layout pass, on any ONNX model: converters wrap every channels-first op (Conv, pooling, Resize, ...)
 * in a pair of Transposes; this pass pushes Transposes down through ops that do not care about layout
 * (elementwise math, activations, Concat with its axis remapped), merges back-to-back Transposes and drops
 * those that compose to the identity. A plain CNN keeps one Transpose at each end of its NHWC interface.
 */

/** Ops applied value by value: a Transpose commutes with them. */
const ELEMENTWISE = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'HardSigmoid', 'Tanh', 'Elu', 'Selu', 'Softplus', 'Softsign', 'ThresholdedRelu', 'Erf', 'Exp',
  'Log', 'Abs', 'Neg', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Clip', 'Identity', 'Cast', 'Add', 'Sub', 'Mul',
  'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean',
]);

export interface TransposeStats {
  before: number;
  after: number;
}

export function optimizeTransposes(model: ModelProto): TransposeStats {
  const graph = new OnnxGraph(model.graph!);
  const before = countTransposes(graph);
  // Every rewrite moves a Transpose toward the outputs or removes one, so this ends; the cap is a guard.
  for (let round = 0; round < 10_000; round++) {
    const changed = removeIdentities(graph) || mergeTransposePairs(graph) || sinkOneTranspose(graph);
    if (!changed) break;
    graph.removeDeadNodes();
  }
  graph.sortTopologically();
  return { before, after: countTransposes(graph) };
}

export function countTransposes(graph: OnnxGraph): number {
  return graph.nodes.filter((node) => node.op_type === 'Transpose').length;
}

function permOf(node: NodeProto): number[] | undefined {
  const attribute = node.attribute?.find((item) => item.name === 'perm');
  return attribute?.ints?.map(Number);
}

function setPerm(node: NodeProto, perm: number[]): void {
  node.attribute = [...(node.attribute ?? []).filter((item) => item.name !== 'perm'), { name: 'perm', type: ATTRIBUTE_TYPE.INTS, ints: perm }];
}

function isGraphInput(graph: OnnxGraph, value: string): boolean {
  return graph.proto.input!.some((input) => input.name === value) || graph.initializer(value) !== undefined;
}

/**
 * Remove `node`, whose single output equals `source`. Graph output names are kept: when the output is a
 * graph output, the producer of `source` is made to write it directly, or the node stays as an Identity.
 */
function bypass(graph: OnnxGraph, node: NodeProto, source: string): boolean {
  const output = node.output![0]!;
  if (!graph.isGraphOutput(output)) {
    graph.removeNode(node);
    graph.replaceAllUses(output, source);
    return true;
  }
  const producer = graph.producer(source);
  if (!producer || graph.isGraphOutput(source) || isGraphInput(graph, source)) {
    if (node.op_type === 'Identity') return false;
    graph.replaceNode(node, [makeNode('Identity', [source], [output], {}, { name: node.name ?? undefined })]);
    return true;
  }
  graph.removeNode(node);
  producer.output = producer.output!.map((value) => (value === source ? output : value));
  graph.replaceAllUses(source, output);
  return true;
}

function removeIdentities(graph: OnnxGraph): boolean {
  for (const node of graph.nodes) {
    if (node.op_type === 'Identity' && bypass(graph, node, node.input![0]!)) return true;
    const perm = node.op_type === 'Transpose' ? permOf(node) : undefined;
    if (perm && isIdentityPerm(perm) && bypass(graph, node, node.input![0]!)) return true;
  }
  return false;
}

/** Transpose(Transpose(x)) -> one Transpose of x (or x itself when the two cancel). */
function mergeTransposePairs(graph: OnnxGraph): boolean {
  for (const node of graph.nodes) {
    if (node.op_type !== 'Transpose') continue;
    const inner = graph.producer(node.input![0]!);
    if (inner?.op_type !== 'Transpose') continue;
    const [first, second] = [permOf(inner), permOf(node)];
    if (!first || !second) continue;
    const composed = composePerms(first, second);
    if (isIdentityPerm(composed)) {
      if (bypass(graph, node, inner.input![0]!)) return true;
      continue;
    }
    node.input = [inner.input![0]!];
    setPerm(node, composed);
    graph.invalidate();
    return true;
  }
  return false;
}

/**
 * op(Transpose(x, p), Transpose(y, p), constants) -> Transpose(op(x, y, constants'), p), for layout-free
 * ops; Concat's axis maps through p. Constants are transposed by p's inverse (scalars stay as they are).
 */
function sinkOneTranspose(graph: OnnxGraph): boolean {
  for (const node of graph.nodes) {
    if (!(ELEMENTWISE.has(node.op_type ?? '') || node.op_type === 'Concat') || node.output?.length !== 1) continue;
    const plan = sinkPlan(graph, node);
    if (!plan) continue;
    const { perm, inputs } = plan;
    const output = node.output[0]!;
    const moved = graph.uniqueName(`${output}_before_transpose`);
    node.input = inputs;
    node.output = [moved];
    if (node.op_type === 'Concat') {
      const axisAttribute = node.attribute!.find((item) => item.name === 'axis')!;
      const axis = Number(axisAttribute.i ?? 0);
      axisAttribute.i = perm[axis < 0 ? axis + perm.length : axis]!;
    }
    graph.insertNode(makeNode('Transpose', [moved], [output], { perm }, { name: graph.uniqueName(`${node.name ?? output}_transpose`) }), graph.nodes[graph.nodes.indexOf(node) + 1]);
    graph.invalidate();
    return true;
  }
  return false;
}

function sinkPlan(graph: OnnxGraph, node: NodeProto): { perm: number[]; inputs: string[] } | undefined {
  let perm: number[] | undefined;
  const transposed = node.input!.map((value) => {
    const producer = value ? graph.producer(value) : undefined;
    return producer?.op_type === 'Transpose' ? producer : undefined;
  });
  for (const producer of transposed) {
    if (!producer) continue;
    const candidate = permOf(producer);
    if (!candidate || (perm && !samePerm(perm, candidate))) return undefined;
    perm = candidate;
  }
  if (!perm) return undefined;
  const inputs: string[] = [];
  for (const [index, value] of node.input!.entries()) {
    const producer = transposed[index];
    if (producer) inputs.push(producer.input![0]!);
    else if (value === '') inputs.push(value);
    else {
      const constant = graph.initializer(value);
      const permuted = constant ? permutedConstant(graph, constant, perm) : undefined;
      if (permuted === undefined) return undefined;
      inputs.push(permuted);
    }
  }
  return { perm, inputs };
}

/** A constant operand for the untransposed op: broadcast to the full rank, transposed by p's inverse. */
function permutedConstant(graph: OnnxGraph, tensor: TensorProto, perm: number[]): string | undefined {
  const dims = tensorDims(tensor);
  const count = dims.reduce((product, size) => product * size, 1);
  if (count === 1 && dims.length <= perm.length) return tensor.name!;
  if (tensor.data_type !== ONNX_TYPE.FLOAT32 || !tensor.raw_data || dims.length > perm.length) return undefined;
  const full = [...new Array<number>(perm.length - dims.length).fill(1), ...dims];
  const inverse = invertPerm(perm);
  const values = permuteValues(decodeTensorAsFloat32(tensor, tensor.raw_data), full, inverse);
  const name = graph.uniqueName(`${tensor.name}_transposed`);
  graph.addInitializer(makeTensor(name, ONNX_TYPE.FLOAT32!, inverse.map((axis) => full[axis]!), values));
  return name;
}
