import { ModelpressError } from '../errors.js';
import { subgraphsOfNode } from '../onnx/graph-walk.js';
import type { GraphProto, ModelProto } from '../onnx/onnx-proto.js';

/**
 * The structural rules of onnx.checker that an exporter can break, checked before anything is written:
 * every node input is defined earlier (graph input, initializer, outer scope or an earlier node's output),
 * each value is defined once, graph outputs are produced, every operator domain has an opset import, and
 * where a value's element type is declared twice the declarations agree.
 */
export function onnxModelProblems(model: ModelProto): string[] {
  const problems: string[] = [];
  const imported = new Set((model.opset_import ?? []).map((opset) => (opset.domain === 'ai.onnx' ? '' : (opset.domain ?? ''))));
  if (!imported.has('')) problems.push('no opset import for the default ONNX domain');
  if (!model.graph) return [...problems, 'the model has no graph'];
  checkGraph(model.graph, new Set(), imported, problems, 'main graph');
  return problems;
}

export function assertValidOnnx(model: ModelProto, what: string): void {
  const problems = onnxModelProblems(model);
  if (problems.length === 0) return;
  const shown = problems.slice(0, 10).join('; ');
  throw new ModelpressError(`${what}: the exported model fails the ONNX checker rules (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${shown}${problems.length > 10 ? '; ...' : ''} (this is a modelpress bug: please report it)`);
}

function checkGraph(graph: GraphProto, outer: Set<string>, imported: Set<string>, problems: string[], where: string): void {
  const defined = new Set(outer);
  const declaredTypes = new Map<string, number>();
  const declare = (name: string, elemType: number | undefined, source: string) => {
    if (!elemType) return;
    const previous = declaredTypes.get(name);
    if (previous !== undefined && previous !== elemType) problems.push(`${where}: ${name} is declared with element type ${previous} and ${elemType} (${source})`);
    declaredTypes.set(name, elemType);
  };
  const define = (name: string, what: string) => {
    if (!name) return;
    if (defined.has(name) && !outer.has(name)) problems.push(`${where}: ${name} is defined more than once (again by ${what})`);
    defined.add(name);
  };
  for (const input of graph.input ?? []) {
    define(input.name ?? '', 'a graph input');
    if (!input.type?.tensor_type?.elem_type) problems.push(`${where}: graph input ${input.name} has no element type`);
    declare(input.name ?? '', input.type?.tensor_type?.elem_type, 'graph input');
  }
  const inputNames = new Set((graph.input ?? []).map((input) => input.name));
  for (const tensor of graph.initializer ?? []) {
    // An initializer may share its name with a graph input (an overridable default), nothing else.
    if (!inputNames.has(tensor.name)) define(tensor.name ?? '', 'an initializer');
    declare(tensor.name ?? '', tensor.data_type, 'initializer');
  }
  for (const value of graph.value_info ?? []) declare(value.name ?? '', value.type?.tensor_type?.elem_type, 'value_info');
  for (const node of graph.node ?? []) {
    const label = `node ${node.name || node.op_type}`;
    const domain = node.domain === 'ai.onnx' ? '' : (node.domain ?? '');
    if (!imported.has(domain)) problems.push(`${where}: ${label} uses domain '${domain}', which has no opset import`);
    for (const input of node.input ?? []) {
      if (input && !defined.has(input)) problems.push(`${where}: ${label} (${node.op_type}) reads ${input} before anything defines it`);
    }
    for (const subgraph of subgraphsOfNode(node)) checkGraph(subgraph, defined, imported, problems, `${where} > ${label}`);
    for (const output of node.output ?? []) define(output, label);
  }
  const outputNames = new Set<string>();
  for (const output of graph.output ?? []) {
    const name = output.name ?? '';
    if (outputNames.has(name)) problems.push(`${where}: graph output ${name} is listed twice`);
    outputNames.add(name);
    if (!defined.has(name)) problems.push(`${where}: graph output ${name} is not produced by any node`);
    if (!output.type?.tensor_type?.elem_type) problems.push(`${where}: graph output ${name} has no element type`);
    declare(name, output.type?.tensor_type?.elem_type, 'graph output');
  }
}
