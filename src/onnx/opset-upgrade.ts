import { makeInt64Tensor, makeTensor } from './builders.js';
import { ONNX_TYPE } from './data-types.js';
import { inferElementTypes } from './element-type-inference.js';
import { OnnxGraph, opsetVersion } from './graph.js';
import { allGraphs } from './graph-walk.js';
import type { GraphProto, ModelProto, NodeProto } from './onnx-proto.js';

/**
 * Raising a model's default-domain opset, as onnx's version converter does for the ops it can: every op
 * whose definition changed between the two versions is rewritten to the new form (Slice-10 and Clip-11 take
 * their attributes as inputs), ops that did not change stay as they are, and any op with a change this
 * table does not know blocks the upgrade: a model is never silently re-interpreted.
 */

/** Op -> the version whose change an adapter handles, and the adapter. */
interface Adapter {
  since: number;
  adapt(node: NodeProto, graph: OnnxGraph, types: Map<string, number>): void;
}

function takeAttribute(node: NodeProto, name: string) {
  const attribute = node.attribute?.find((candidate) => candidate.name === name);
  node.attribute = (node.attribute ?? []).filter((candidate) => candidate !== attribute);
  return attribute;
}

const ADAPTERS: Record<string, Adapter> = {
  // Slice-10: starts, ends, axes move from attributes to int64 inputs (steps is new, default 1).
  Slice: {
    since: 10,
    adapt(node, graph) {
      const inputs = ['starts', 'ends', 'axes'].map((key) => {
        const values = takeAttribute(node, key)?.ints;
        if (!values) return '';
        const tensor = makeInt64Tensor(graph.uniqueName(`${node.name || node.output![0]}_${key}`), [values.length], values);
        graph.addInitializer(tensor);
        return tensor.name!;
      });
      while (inputs.at(-1) === '') inputs.pop();
      node.input = [node.input![0]!, ...inputs];
    },
  },
  // Clip-11: min and max move from float attributes to optional scalar inputs of the input's type.
  Clip: {
    since: 11,
    adapt(node, graph, types) {
      const elementType = types.get(node.input![0]!) ?? ONNX_TYPE.FLOAT32!;
      if (elementType !== ONNX_TYPE.FLOAT32 && elementType !== ONNX_TYPE.FLOAT64) throw new UpgradeBlocked(`Clip '${node.name ?? ''}' on a non-float input`);
      const bounds = ['min', 'max'].map((key) => {
        const attribute = takeAttribute(node, key);
        if (attribute?.f === undefined) return '';
        const tensor = makeTensor(
          graph.uniqueName(`${node.name || node.output![0]}_${key}`),
          elementType,
          [],
          elementType === ONNX_TYPE.FLOAT64 ? Float64Array.of(attribute.f) : Float32Array.of(attribute.f),
        );
        graph.addInitializer(tensor);
        return tensor.name!;
      });
      while (bounds.at(-1) === '') bounds.pop();
      node.input = [node.input![0]!, ...bounds];
    },
  },
};

/**
 * Default-domain ops whose definition, as a model at opset 9 or 10 uses them, means the same at opset 11
 * (new versions only widened types, allowed negative axes or added attributes with backward-compatible
 * defaults).
 */
const UNCHANGED_UP_TO_11 = new Set([
  'Abs', 'Acos', 'Add', 'And', 'ArgMax', 'ArgMin', 'Asin', 'Atan', 'AveragePool', 'BatchNormalization', 'Cast', 'Ceil', 'Concat',
  'Constant', 'ConstantOfShape', 'Conv', 'ConvTranspose', 'Cos', 'DepthToSpace', 'Div', 'Dropout', 'Elu', 'Equal', 'Erf', 'Exp',
  'Expand', 'Flatten', 'Floor', 'GRU', 'Gather', 'Gemm', 'GlobalAveragePool', 'GlobalMaxPool', 'Greater', 'HardSigmoid', 'Identity',
  'If', 'InstanceNormalization', 'LRN', 'LSTM', 'LeakyRelu', 'Less', 'Log', 'LogSoftmax', 'Loop', 'MatMul', 'Max', 'MaxPool', 'Mean',
  'Min', 'Mul', 'Neg', 'Not', 'OneHot', 'Or', 'PRelu', 'Pow', 'RNN', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp',
  'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'Selu', 'Shape', 'Sigmoid',
  'Sign', 'Sin', 'Size', 'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tan', 'Tanh',
  'Tile', 'Transpose', 'Unsqueeze', 'Where', 'Xor',
]);

class UpgradeBlocked extends Error {}

export interface OpsetUpgrade {
  from: number;
  to: number;
  /** How many nodes were rewritten to their new form, by op type. */
  adapted: Record<string, number>;
}

/** Why `model` cannot be raised to `target` (first blocking op), or undefined when it can. */
export function opsetUpgradeBlocker(model: ModelProto, target: number): string | undefined {
  const current = opsetVersion(model, '') ?? 1;
  if (target > 11) return `raising opsets past 11 is not supported (target ${target})`;
  if (current < 9) return `the model imports opset ${current}; upgrades start at opset 9`;
  for (const { graph } of allGraphs(model)) {
    for (const node of graph.node ?? []) {
      if (node.domain && node.domain !== 'ai.onnx') continue;
      const opType = node.op_type ?? '';
      if (ADAPTERS[opType] || UNCHANGED_UP_TO_11.has(opType)) continue;
      return `op ${opType} ('${node.name ?? ''}') changed between opset ${current} and ${target} in a way this upgrade does not rewrite`;
    }
  }
  return undefined;
}

/** Raise the default-domain opset to `target`, rewriting changed ops; throws when a blocker exists. */
export function upgradeDefaultOpset(model: ModelProto, target: number): OpsetUpgrade {
  const from = opsetVersion(model, '') ?? 1;
  const blocker = opsetUpgradeBlocker(model, target);
  if (blocker) throw new Error(blocker);
  const adapted: Record<string, number> = {};
  const visit = (graphProto: GraphProto, outer: Map<string, number>) => {
    const graph = new OnnxGraph(graphProto);
    const types = inferElementTypes(graphProto, outer);
    for (const node of graph.nodes) {
      const adapter = ADAPTERS[node.op_type ?? ''];
      if (adapter && !node.domain && adapter.since > from && adapter.since <= target) {
        adapter.adapt(node, graph, types);
        adapted[node.op_type!] = (adapted[node.op_type!] ?? 0) + 1;
      }
      for (const attribute of node.attribute ?? []) {
        for (const body of [...(attribute.g ? [attribute.g] : []), ...(attribute.graphs ?? [])]) visit(body, types);
      }
    }
    graph.invalidate();
  };
  try {
    for (const { graph, depth } of allGraphs(model)) if (depth === 0) visit(graph, new Map());
  } catch (error) {
    if (error instanceof UpgradeBlocked) throw new Error(`cannot raise the opset: ${error.message}`);
    throw error;
  }
  const entry = (model.opset_import ?? []).find((opset) => !opset.domain || opset.domain === 'ai.onnx');
  if (entry) entry.version = target;
  return { from, to: target, adapted };
}
