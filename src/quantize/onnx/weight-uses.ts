import { onnxDataTypeName } from '../../onnx/data-types.js';
import { OnnxGraph } from '../../onnx/graph.js';
import { allGraphs, subgraphsOfNode } from '../../onnx/graph-walk.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { NodeProto, TensorProto } from '../../onnx/onnx-proto.js';
import { tensorByteLength, tensorDims, tensorElementCount } from '../../onnx/tensor-data.js';
import type { TensorDecision } from '../quantize-report.js';
import type { WeightSelection } from '../weight-selection.js';

/**
 * Finding the weights a scheme can rewrite: initializers that feed a given input of a given op type, in
 * every graph (subgraphs included). Each candidate is either eligible, or skipped with the reason, so the
 * report accounts for every weight the user might have expected to shrink.
 */

/** Op type -> index of the input that holds the weight (MatMul's B is input 1, Gather's data input 0). */
export type WeightInputs = Record<string, number>;

export interface WeightUse {
  /** The graph holding `node` (a subgraph when an If/Loop body reads an outer weight). */
  graph: OnnxGraph;
  /** The graph holding the weight's initializer: remove or replace it there. */
  weightGraph: OnnxGraph;
  node: NodeProto;
  inputIndex: number;
  weight: TensorProto;
  dims: number[];
}

export interface WeightUseSearch {
  eligible: WeightUse[];
  skipped: TensorDecision[];
}

export interface WeightUseRules {
  inputs: WeightInputs;
  selection: WeightSelection;
  /** Element types accepted (by name); default float32 only. */
  dataTypes?: string[];
  /** Extra per-use check returning a skip reason (e.g. "needs a 2-D weight"), or undefined when fine. */
  check?: (use: WeightUse) => string | undefined;
}

function skipped(weight: TensorProto, node: NodeProto | undefined, reason: string): TensorDecision {
  const bytes = tensorByteLength(weight) ?? 0;
  return {
    weight: weight.name ?? '',
    node: node?.name,
    opType: node?.op_type,
    action: 'skipped',
    reason,
    elements: tensorElementCount(weight),
    bytesBefore: bytes,
    bytesAfter: bytes,
  };
}

/**
 * The nodes that actually read `name` through `node`: the node itself when it takes `name` as an input,
 * and, for If/Loop/Scan, the nodes inside its bodies that read it as an outer-scope value (not where a
 * body defines its own `name`).
 */
function readersInside(node: NodeProto, name: string): NodeProto[] {
  const readers = (node.input ?? []).includes(name) ? [node] : [];
  for (const body of subgraphsOfNode(node)) {
    const shadowed = [...(body.input ?? []), ...(body.initializer ?? [])].some((value) => value.name === name);
    if (shadowed) continue;
    for (const inner of body.node ?? []) readers.push(...readersInside(inner, name));
  }
  return readers;
}

/**
 * Call promoteConstantWeightsToInitializers first so Constant-node weights are found too. A weight is
 * eligible only if every node reading it is a rewritable use: replacing it for one consumer must not take
 * it away from another.
 */
export function findWeightUses(model: OnnxModel, rules: WeightUseRules): WeightUseSearch {
  const dataTypes = rules.dataTypes ?? ['float32'];
  const eligible: WeightUse[] = [];
  const decisions: TensorDecision[] = [];
  const graphs = [...allGraphs(model.proto)].map(({ graph }) => new OnnxGraph(graph));
  const graphOfNode = new Map<NodeProto, OnnxGraph>();
  for (const graph of graphs) for (const node of graph.nodes) graphOfNode.set(node, graph);
  for (const graph of graphs) {
    const proto = graph.proto;
    const graphInputs = new Set((proto.input ?? []).map((input) => input.name));
    for (const weight of proto.initializer ?? []) {
      const name = weight.name ?? '';
      const consumers = graph.consumers(name).flatMap((node) => readersInside(node, name));
      const uses = consumers.filter((node) => {
        const index = rules.inputs[node.op_type ?? ''];
        return index !== undefined && !node.domain && node.input?.[index] === name;
      });
      if (uses.length === 0) continue; // not a weight of the ops this scheme rewrites: not reported
      const first = uses[0]!;
      if (graphInputs.has(name)) {
        decisions.push(skipped(weight, first, 'also a graph input (can be overridden at run time)'));
        continue;
      }
      const type = onnxDataTypeName(weight.data_type);
      if (!dataTypes.includes(type)) {
        decisions.push(skipped(weight, first, `element type ${type}, not ${dataTypes.join('/')}`));
        continue;
      }
      const other = consumers.find((node) => !uses.includes(node) || node.input!.filter((input) => input === name).length > 1);
      if (other) {
        decisions.push(skipped(weight, first, `shared with ${other.op_type} node '${other.name ?? ''}'`));
        continue;
      }
      const candidates = uses.map((node) => ({
        graph: graphOfNode.get(node)!,
        weightGraph: graph,
        node,
        inputIndex: rules.inputs[node.op_type!]!,
        weight,
        dims: tensorDims(weight),
      }));
      const verdict =
        candidates.map((use) => rules.selection.verdict({ weightName: name, elements: tensorElementCount(weight), nodeName: use.node.name, opType: use.node.op_type })).find(Boolean) ??
        candidates.map((use) => rules.check?.(use)).find(Boolean);
      if (verdict) {
        decisions.push(skipped(weight, first, verdict));
        continue;
      }
      eligible.push(...candidates);
    }
  }
  return { eligible, skipped: decisions };
}
