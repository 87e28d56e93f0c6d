import { ModelpressError } from '../errors.js';
import { subgraphsOfNode } from './graph-walk.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from './onnx-proto.js';

/**
 * The few graph primitives every pass is written in: who produces and who consumes a value, insert /
 * replace / remove nodes, add initializers, topological order and dead-node removal. A node that owns a
 * subgraph (If/Loop/Scan) counts as consuming every outer value its subgraph reads, so no pass removes or
 * renames a value a subgraph still needs.
 */
export class OnnxGraph {
  private index?: { producers: Map<string, NodeProto>; consumers: Map<string, NodeProto[]> };

  constructor(readonly proto: GraphProto) {
    proto.node ??= [];
    proto.initializer ??= [];
    proto.input ??= [];
    proto.output ??= [];
  }

  get nodes(): NodeProto[] {
    return this.proto.node!;
  }

  private built() {
    if (!this.index) {
      const producers = new Map<string, NodeProto>();
      const consumers = new Map<string, NodeProto[]>();
      for (const node of this.nodes) {
        for (const output of node.output ?? []) if (output) producers.set(output, node);
        for (const value of nodeInputsWithSubgraphs(node)) {
          const list = consumers.get(value);
          if (list) {
            if (list[list.length - 1] !== node) list.push(node);
          } else consumers.set(value, [node]);
        }
      }
      this.index = { producers, consumers };
    }
    return this.index;
  }

  /** Call after changing nodes' inputs or outputs directly. */
  invalidate(): void {
    this.index = undefined;
  }

  producer(value: string): NodeProto | undefined {
    return this.built().producers.get(value);
  }

  consumers(value: string): NodeProto[] {
    return this.built().consumers.get(value) ?? [];
  }

  isGraphOutput(value: string): boolean {
    return this.proto.output!.some((output) => output.name === value);
  }

  initializer(name: string): TensorProto | undefined {
    return this.proto.initializer!.find((tensor) => tensor.name === name);
  }

  /** Add (or replace, by name) an initializer. */
  addInitializer(tensor: TensorProto): void {
    const existing = this.proto.initializer!.findIndex((item) => item.name === tensor.name);
    if (existing >= 0) this.proto.initializer![existing] = tensor;
    else this.proto.initializer!.push(tensor);
  }

  removeInitializer(name: string): void {
    this.proto.initializer = this.proto.initializer!.filter((tensor) => tensor.name !== name);
  }

  /** Insert before `before` (default: at the end). Order is fixed later by sortTopologically if needed. */
  insertNode(node: NodeProto, before?: NodeProto): void {
    const at = before ? this.nodes.indexOf(before) : -1;
    if (at >= 0) this.nodes.splice(at, 0, node);
    else this.nodes.push(node);
    this.invalidate();
  }

  replaceNode(node: NodeProto, replacements: NodeProto[]): void {
    const at = this.nodes.indexOf(node);
    if (at < 0) throw new ModelpressError(`node '${node.name ?? ''}' is not in graph '${this.proto.name ?? ''}'`);
    this.nodes.splice(at, 1, ...replacements);
    this.invalidate();
  }

  removeNode(node: NodeProto): void {
    this.replaceNode(node, []);
  }

  /** Point every consumer (and graph output) of `from` at `to`. */
  replaceAllUses(from: string, to: string): void {
    for (const node of this.nodes) {
      node.input = (node.input ?? []).map((value) => (value === from ? to : value));
      for (const subgraph of subgraphsOfNode(node)) renameOuterReferences(subgraph, from, to);
    }
    for (const output of this.proto.output!) if (output.name === from) output.name = to;
    this.invalidate();
  }

  /** A value name not used anywhere in this graph yet, derived from `base`. */
  uniqueName(base: string): string {
    const taken = new Set<string>([
      ...this.nodes.flatMap((node) => [...(node.input ?? []), ...(node.output ?? []), node.name ?? '']),
      ...this.proto.initializer!.map((tensor) => tensor.name ?? ''),
      ...this.proto.input!.map((value) => value.name ?? ''),
    ]);
    if (!taken.has(base)) return base;
    for (let suffix = 1; ; suffix++) if (!taken.has(`${base}_${suffix}`)) return `${base}_${suffix}`;
  }

  /** Nodes in an order where every producer comes before its consumers (Kahn's algorithm, stable). */
  topologicalOrder(): NodeProto[] {
    const { producers } = this.built();
    const pending = new Map<NodeProto, number>();
    const dependents = new Map<NodeProto, NodeProto[]>();
    for (const node of this.nodes) {
      const dependencies = new Set<NodeProto>();
      for (const value of nodeInputsWithSubgraphs(node)) {
        const producer = producers.get(value);
        if (producer && producer !== node) dependencies.add(producer);
      }
      pending.set(node, dependencies.size);
      for (const dependency of dependencies) {
        const list = dependents.get(dependency) ?? [];
        list.push(node);
        dependents.set(dependency, list);
      }
    }
    const ready = this.nodes.filter((node) => pending.get(node) === 0);
    const order: NodeProto[] = [];
    for (let cursor = 0; cursor < ready.length; cursor++) {
      const node = ready[cursor]!;
      order.push(node);
      for (const dependent of dependents.get(node) ?? []) {
        const left = pending.get(dependent)! - 1;
        pending.set(dependent, left);
        if (left === 0) ready.push(dependent);
      }
    }
    if (order.length !== this.nodes.length) {
      const stuck = this.nodes.find((node) => pending.get(node)! > 0);
      throw new ModelpressError(`graph '${this.proto.name ?? ''}' has a cycle through node '${stuck?.name ?? ''}'`);
    }
    return order;
  }

  sortTopologically(): void {
    this.proto.node = this.topologicalOrder();
    this.invalidate();
  }

  /**
   * Remove nodes whose outputs reach no graph output (directly or through other nodes), and initializers
   * nothing reads any more. `extraLive` names values an enclosing graph still needs. Returns how many
   * nodes were removed.
   */
  removeDeadNodes(extraLive: Iterable<string> = []): number {
    const live = new Set<string>([...this.proto.output!.map((output) => output.name ?? ''), ...extraLive]);
    const keep = new Set<NodeProto>();
    for (const node of [...this.topologicalOrder()].reverse()) {
      if ((node.output ?? []).some((output) => live.has(output))) {
        keep.add(node);
        for (const value of nodeInputsWithSubgraphs(node)) live.add(value);
      }
    }
    const removed = this.nodes.length - keep.size;
    this.proto.node = this.nodes.filter((node) => keep.has(node));
    this.proto.initializer = this.proto.initializer!.filter(
      (tensor) => live.has(tensor.name ?? '') || this.proto.input!.some((input) => input.name === tensor.name),
    );
    this.invalidate();
    return removed;
  }
}

/** Values a subgraph reads from enclosing scopes: used but neither produced, input nor initialized inside. */
export function outerReferences(graph: GraphProto): Set<string> {
  const defined = new Set<string>([
    ...(graph.input ?? []).map((value) => value.name ?? ''),
    ...(graph.initializer ?? []).map((tensor) => tensor.name ?? ''),
    ...(graph.node ?? []).flatMap((node) => node.output ?? []),
  ]);
  const outer = new Set<string>();
  const use = (value: string) => {
    if (value && !defined.has(value)) outer.add(value);
  };
  for (const node of graph.node ?? []) {
    for (const value of node.input ?? []) use(value);
    for (const subgraph of subgraphsOfNode(node)) for (const value of outerReferences(subgraph)) use(value);
  }
  for (const output of graph.output ?? []) use(output.name ?? '');
  return outer;
}

/** A node's inputs plus the outer values its subgraphs read (empty names are omitted optional inputs). */
export function nodeInputsWithSubgraphs(node: NodeProto): string[] {
  const inputs = (node.input ?? []).filter((value) => value !== '');
  for (const subgraph of subgraphsOfNode(node)) inputs.push(...outerReferences(subgraph));
  return inputs;
}

function renameOuterReferences(graph: GraphProto, from: string, to: string): void {
  if (!outerReferences(graph).has(from)) return;
  for (const node of graph.node ?? []) {
    node.input = (node.input ?? []).map((value) => (value === from ? to : value));
    for (const subgraph of subgraphsOfNode(node)) renameOuterReferences(subgraph, from, to);
  }
  for (const output of graph.output ?? []) if (output.name === from) output.name = to;
}

// ------------------------------------------------------------------ opset imports

export function opsetVersion(model: ModelProto, domain: string): number | undefined {
  const entry = model.opset_import?.find((opset) => (opset.domain ?? '') === domain || (domain === 'ai.onnx' && !opset.domain));
  return entry?.version === undefined ? undefined : Number(entry.version);
}

/**
 * Make sure `domain` is imported at `minimumVersion` or later. The default domain is never raised silently
 * (that changes the meaning of every op already in the graph): passes that need a newer one must say so.
 */
export function ensureOpset(model: ModelProto, domain: string, minimumVersion: number): void {
  model.opset_import ??= [];
  const entry = model.opset_import.find((opset) => (opset.domain ?? '') === domain);
  if (!entry) {
    model.opset_import.push({ domain, version: minimumVersion });
    return;
  }
  if (Number(entry.version ?? 0) >= minimumVersion) return;
  if (domain === '') {
    throw new ModelpressError(`the model imports ONNX opset ${entry.version}; this rewrite needs opset ${minimumVersion} or later`);
  }
  entry.version = minimumVersion;
}
