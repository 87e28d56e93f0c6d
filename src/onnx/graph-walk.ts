import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from './onnx-proto.js';

/**
 * Every traversal goes through here, so that subgraphs (If/Loop/Scan bodies held in node attributes),
 * training graphs and function bodies are never forgotten by a pass.
 */

export interface GraphLocation {
  graph: GraphProto;
  /** The node whose attribute holds this graph; undefined for the main graph and training graphs. */
  owner?: NodeProto;
  /** Nesting depth: 0 for top-level graphs. */
  depth: number;
}

function subgraphsOfAttribute(attribute: AttributeProto): GraphProto[] {
  return [...(attribute.g ? [attribute.g] : []), ...(attribute.graphs ?? [])];
}

export function subgraphsOfNode(node: NodeProto): GraphProto[] {
  return (node.attribute ?? []).flatMap(subgraphsOfAttribute);
}

function* walkGraph(graph: GraphProto, owner: NodeProto | undefined, depth: number): Generator<GraphLocation> {
  yield { graph, owner, depth };
  for (const node of graph.node ?? []) {
    for (const subgraph of subgraphsOfNode(node)) yield* walkGraph(subgraph, node, depth + 1);
  }
}

/** The main graph, every subgraph at any depth, and training-info graphs. */
export function* allGraphs(model: ModelProto): Generator<GraphLocation> {
  if (model.graph) yield* walkGraph(model.graph, undefined, 0);
  for (const training of model.training_info ?? []) {
    if (training.initialization) yield* walkGraph(training.initialization, undefined, 0);
    if (training.algorithm) yield* walkGraph(training.algorithm, undefined, 0);
  }
}

/** Every node list: all graphs' nodes and all function bodies' nodes (with their subgraphs). */
export function* allNodes(model: ModelProto): Generator<NodeProto> {
  for (const { graph } of allGraphs(model)) yield* graph.node ?? [];
  for (const fn of model.functions ?? []) {
    for (const node of fn.node ?? []) {
      yield node;
      for (const subgraph of subgraphsOfNode(node)) {
        for (const { graph } of walkGraph(subgraph, node, 1)) yield* graph.node ?? [];
      }
    }
  }
}

/** Every TensorProto held anywhere in the model: initializers, sparse initializers, tensor attributes. */
export function* allTensors(model: ModelProto): Generator<TensorProto> {
  for (const { graph } of allGraphs(model)) {
    yield* graph.initializer ?? [];
    for (const sparse of graph.sparse_initializer ?? []) {
      if (sparse.values) yield sparse.values;
      if (sparse.indices) yield sparse.indices;
    }
  }
  for (const node of allNodes(model)) {
    for (const attribute of node.attribute ?? []) {
      if (attribute.t) yield attribute.t;
      yield* attribute.tensors ?? [];
      if (attribute.sparse_tensor?.values) yield attribute.sparse_tensor.values;
      if (attribute.sparse_tensor?.indices) yield attribute.sparse_tensor.indices;
    }
  }
}
