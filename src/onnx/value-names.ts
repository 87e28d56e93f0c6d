import { allGraphs } from './graph-walk.js';
import type { ModelProto } from './onnx-proto.js';

/**
 * Fresh value and node names unique across the whole model, subgraphs included: a name new in one graph must
 * not shadow, or be shadowed by, one in an enclosing or nested graph. Built once per pass (one scan), unlike
 * OnnxGraph.uniqueName, which scans its one graph on every call.
 */
export class ValueNames {
  private readonly taken = new Set<string>();

  constructor(model: ModelProto) {
    for (const { graph } of allGraphs(model)) {
      for (const value of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.value_info ?? [])]) this.taken.add(value.name ?? '');
      for (const tensor of graph.initializer ?? []) this.taken.add(tensor.name ?? '');
      for (const node of graph.node ?? []) {
        for (const value of [...(node.input ?? []), ...(node.output ?? []), node.name ?? '']) this.taken.add(value);
      }
    }
  }

  fresh(base: string): string {
    let name = base;
    for (let suffix = 1; this.taken.has(name); suffix++) name = `${base}_${suffix}`;
    this.taken.add(name);
    return name;
  }
}
