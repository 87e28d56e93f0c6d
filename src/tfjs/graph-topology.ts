import type { ValueSummary } from '../inspect/model-description.js';
import { tfDataTypeName } from './tf-data-types.js';

/**
 * Reading a GraphModel's topology: a TensorFlow GraphDef in protobuf JSON form (int64 values as strings,
 * fields with default values left out), plus the optional `signature` tfjs-converter writes beside it.
 */

export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, Record<string, unknown>>;
  [field: string]: unknown;
}

interface TensorShapeJson {
  dim?: Array<{ size?: string | number }>;
  unknownRank?: boolean;
}

interface SignatureEntry {
  name?: string;
  dtype?: string;
  tensorShape?: TensorShapeJson;
}

/** Nodes that hold data or feed the graph rather than compute: reported as weights and inputs instead. */
const NON_COMPUTING_OPS = new Set(['Const', 'Placeholder', 'PlaceholderWithDefault', 'NoOp']);

export function graphNodes(modelTopology: Record<string, unknown>): GraphNode[] {
  return Array.isArray(modelTopology.node) ? (modelTopology.node as GraphNode[]) : [];
}

/** Function bodies (control flow: While, If, ...) run ops too; JSON names the field nodeDef or node_def. */
function functionNodes(modelTopology: Record<string, unknown>): GraphNode[] {
  const library = modelTopology.library as { function?: Array<Record<string, unknown>> } | undefined;
  return (library?.function ?? []).flatMap((fn) => (fn.nodeDef ?? fn.node_def ?? []) as GraphNode[]);
}

export function graphOpCounts(modelTopology: Record<string, unknown>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of [...graphNodes(modelTopology), ...functionNodes(modelTopology)]) {
    if (!NON_COMPUTING_OPS.has(node.op)) counts[node.op] = (counts[node.op] ?? 0) + 1;
  }
  return counts;
}

/** Protobuf JSON omits a dim's size when it is 0; -1 means unknown. */
function shapeOf(shape: TensorShapeJson | undefined): Array<number | null> | null {
  if (shape === undefined || shape.unknownRank) return null;
  return (shape.dim ?? []).map((dim) => {
    const size = Number(dim.size ?? 0);
    return size < 0 ? null : size;
  });
}

function fromSignature(entries: Record<string, SignatureEntry>): ValueSummary[] {
  return Object.entries(entries).map(([alias, entry]) => ({
    name: entry.name ?? alias,
    dtype: tfDataTypeName(entry.dtype),
    shape: shapeOf(entry.tensorShape),
  }));
}

function signatureOf(json: Record<string, unknown>): { inputs?: Record<string, SignatureEntry>; outputs?: Record<string, SignatureEntry> } {
  return (json.signature ?? {}) as ReturnType<typeof signatureOf>;
}

function attrType(node: GraphNode, attribute: string): unknown {
  return node.attr?.[attribute]?.type;
}

/** The signature's inputs when written, else the Placeholder nodes (what GraphModel.inputs lists too). */
export function graphInputs(json: Record<string, unknown>, modelTopology: Record<string, unknown>): ValueSummary[] {
  const signature = signatureOf(json);
  if (signature.inputs && Object.keys(signature.inputs).length > 0) return fromSignature(signature.inputs);
  return graphNodes(modelTopology)
    .filter((node) => node.op === 'Placeholder')
    .map((node) => ({
      name: node.name,
      dtype: tfDataTypeName(attrType(node, 'dtype')),
      shape: shapeOf(node.attr?.shape?.shape as TensorShapeJson | undefined),
    }));
}

/** Input names are `node`, `node:outputIndex` or `^node` (a control dependency). */
function producerName(input: string): string {
  return input.replace(/^\^/, '').replace(/:\d+$/, '');
}

/** The signature's outputs when written, else the computing nodes whose results nothing consumes. */
export function graphOutputs(json: Record<string, unknown>, modelTopology: Record<string, unknown>): ValueSummary[] {
  const signature = signatureOf(json);
  if (signature.outputs && Object.keys(signature.outputs).length > 0) return fromSignature(signature.outputs);
  const nodes = graphNodes(modelTopology);
  const consumed = new Set(nodes.flatMap((node) => (node.input ?? []).map(producerName)));
  return nodes
    .filter((node) => !consumed.has(node.name) && !NON_COMPUTING_OPS.has(node.op))
    .map((node) => ({ name: node.name, dtype: tfDataTypeName(attrType(node, 'T') ?? attrType(node, 'dtype')), shape: null }));
}
