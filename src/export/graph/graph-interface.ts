import type { GraphNode } from '../../tfjs/graph-topology.js';
import type { TfjsModelJson } from '../../tfjs/model-json.js';

/**
 * A GraphModel's inputs and outputs as TF.js names them (tfjs-converter GraphExecutor): inputs are the
 * signature's nodes in its order, else every Placeholder, and are called by node name; outputs are the
 * signature's, called by their signature key, else every node nothing consumes, called by node name.
 */
export interface GraphInput {
  name: string;
  node: GraphNode;
}

export interface GraphOutput {
  name: string;
  /** The producing node and which of its outputs. */
  node: string;
  index: number;
}

/** `node`, `node:2` or `^node` (a control dependency). */
export function parseTensorReference(reference: string): { node: string; index: number; control: boolean } {
  const control = reference.startsWith('^');
  const bare = control ? reference.slice(1) : reference;
  const match = /^(.*):(\d+)$/.exec(bare);
  return match ? { node: match[1]!, index: Number(match[2]), control } : { node: bare, index: 0, control };
}

interface SignatureEntry {
  name?: string;
}

function signatureEntries(json: TfjsModelJson, side: 'inputs' | 'outputs'): Array<[string, SignatureEntry]> {
  const signature = (json.signature ?? (json.userDefinedMetadata as Record<string, unknown> | undefined)?.signature) as Record<string, Record<string, SignatureEntry>> | undefined;
  return Object.entries(signature?.[side] ?? {});
}

export function graphInterface(json: TfjsModelJson, nodes: GraphNode[]): { inputs: GraphInput[]; outputs: GraphOutput[] } {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const signatureInputs = signatureEntries(json, 'inputs')
    .map(([key, entry]) => byName.get(parseTensorReference(entry.name ?? key).node))
    .filter((node): node is GraphNode => node !== undefined);
  const inputNodes = signatureInputs.length > 0 ? signatureInputs : nodes.filter((node) => node.op.startsWith('Placeholder'));
  // A Placeholder the signature leaves out still has to be fed.
  const extra = nodes.filter((node) => node.op === 'Placeholder' && !inputNodes.includes(node));
  const inputs = [...inputNodes, ...extra].map((node) => ({ name: node.name, node }));

  // Keyed by tensor as tfjs keys them: a tensor listed under two keys is one output, named by the last.
  const keyOfTensor = new Map<string, string>();
  for (const [key, entry] of signatureEntries(json, 'outputs')) keyOfTensor.set(entry.name ?? key, key);
  const signatureOutputs = [...keyOfTensor]
    .map(([tensor, key]) => ({ name: key, ...parseTensorReference(tensor) }))
    .filter((output) => byName.has(output.node));
  if (signatureOutputs.length > 0) return { inputs, outputs: signatureOutputs.map(({ name, node, index }) => ({ name, node, index })) };
  const consumed = new Set(nodes.flatMap((node) => (node.input ?? []).map((reference) => parseTensorReference(reference).node)));
  // As tfjs: every node nothing consumes, constants included; a NoOp has no value to return.
  const outputs = nodes
    .filter((node) => !consumed.has(node.name) && node.op !== 'NoOp')
    .map((node) => ({ name: node.name, node: node.name, index: 0 }));
  return { inputs, outputs };
}

/** The nodes the outputs depend on (control dependencies do not change values), producers first. */
export function nodesFeeding(outputs: GraphOutput[], nodes: GraphNode[]): GraphNode[] {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const ordered: GraphNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  // Iterative depth-first walk: real graphs are deeper than the call stack allows.
  const stack: Array<{ node: GraphNode; expanded: boolean }> = [];
  for (const output of outputs) {
    const node = byName.get(output.node);
    if (node) stack.push({ node, expanded: false });
  }
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      state.set(top.node.name, 'done');
      ordered.push(top.node);
      continue;
    }
    if (state.has(top.node.name)) continue;
    state.set(top.node.name, 'visiting');
    stack.push({ node: top.node, expanded: true });
    for (const reference of [...(top.node.input ?? [])].reverse()) {
      const { node, control } = parseTensorReference(reference);
      const producer = byName.get(node);
      if (control || producer === undefined || state.has(producer.name)) continue;
      stack.push({ node: producer, expanded: false });
    }
  }
  return ordered;
}
