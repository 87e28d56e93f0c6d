import { FormatError } from '../../errors.js';
import { kerasLayers, kerasModelConfig, type KerasLayer } from '../../tfjs/layers-topology.js';

/**
 * A Keras LayersModel topology as a list of layer calls in an order where every call's inputs exist:
 * Sequential models are a chain, functional ones come from each layer's `inbound_nodes`. A layer called at
 * several inbound nodes (a shared layer) appears once per call; its weights are the same every time.
 */

/** One tensor of the model: output `tensorIndex` of call `nodeIndex` of layer `layer`. */
export interface KerasTensorRef {
  layer: string;
  nodeIndex: number;
  tensorIndex: number;
}

export interface KerasLayerCall {
  layer: KerasLayer;
  name: string;
  nodeIndex: number;
  inputs: KerasTensorRef[];
}

export interface KerasModelInput {
  name: string;
  /** With the batch dimension first; null for a dimension the model leaves open. */
  batchShape: Array<number | null>;
  dtype: string;
}

export interface KerasModelGraph {
  inputs: KerasModelInput[];
  /** Every call but the InputLayers', in an order where each call's inputs were produced before. */
  calls: KerasLayerCall[];
  outputs: Array<{ name: string; ref: KerasTensorRef }>;
}

export function tensorKey(ref: KerasTensorRef): string {
  return `${ref.layer}:${ref.nodeIndex}:${ref.tensorIndex}`;
}

export function kerasLayerName(layer: KerasLayer): string {
  return String(layer.config?.name ?? layer.name ?? layer.class_name);
}

export function kerasModelGraph(modelTopology: Record<string, unknown>, modelPath: string): KerasModelGraph {
  const model = kerasModelConfig(modelTopology);
  const layers = kerasLayers(model);
  if (layers.length === 0) throw new FormatError(`${modelPath}: the LayersModel has no layers`);
  return model.class_name === 'Sequential' || Array.isArray(model.config)
    ? sequentialGraph(layers, modelPath)
    : functionalGraph(layers, model.config as Record<string, unknown>, modelPath);
}

function batchShapeOf(layer: KerasLayer): Array<number | null> | undefined {
  const shape = layer.config?.batch_input_shape ?? layer.config?.batch_shape;
  return Array.isArray(shape) ? shape.map((size) => (typeof size === 'number' ? size : null)) : undefined;
}

function inputOf(layer: KerasLayer, name: string, modelPath: string): KerasModelInput {
  const batchShape = batchShapeOf(layer);
  if (!batchShape) throw new FormatError(`${modelPath}: layer ${kerasLayerName(layer)} starts the model but declares no batch_input_shape`);
  return { name, batchShape, dtype: typeof layer.config?.dtype === 'string' ? layer.config.dtype : 'float32' };
}

/** tfjs names a Sequential model's implicit input `<first layer>_input` (Sequential.add). */
function sequentialGraph(layers: KerasLayer[], modelPath: string): KerasModelGraph {
  const first = layers[0]!;
  const explicitInput = first.class_name === 'InputLayer';
  const input = inputOf(first, explicitInput ? kerasLayerName(first) : `${kerasLayerName(first)}_input`, modelPath);
  const calls: KerasLayerCall[] = [];
  let previous: KerasTensorRef = { layer: input.name, nodeIndex: 0, tensorIndex: 0 };
  for (const layer of explicitInput ? layers.slice(1) : layers) {
    const name = kerasLayerName(layer);
    calls.push({ layer, name, nodeIndex: 0, inputs: [previous] });
    previous = { layer: name, nodeIndex: 0, tensorIndex: 0 };
  }
  const last = calls.at(-1)?.name ?? input.name;
  return { inputs: [input], calls, outputs: [{ name: last, ref: previous }] };
}

/** `input_layers` / `output_layers`: [[name, node, tensor], ...], or one such triple on its own. */
function endpoints(value: unknown): KerasTensorRef[] {
  if (!Array.isArray(value)) return [];
  const list = typeof value[0] === 'string' ? [value] : value;
  return list.map((entry) => {
    const [layer, nodeIndex, tensorIndex] = entry as [string, number?, number?];
    return { layer: String(layer), nodeIndex: Number(nodeIndex ?? 0), tensorIndex: Number(tensorIndex ?? 0) };
  });
}

/** Keras 2 / tfjs inbound nodes: one list per call of [layer, node, tensor, kwargs] entries. */
function inboundNodes(layer: KerasLayer, modelPath: string): KerasTensorRef[][] {
  const nodes = layer.inbound_nodes ?? [];
  if (!Array.isArray(nodes)) throw new FormatError(`${modelPath}: layer ${kerasLayerName(layer)} has malformed inbound_nodes`);
  return nodes.map((node) => {
    if (!Array.isArray(node)) {
      throw new FormatError(`${modelPath}: layer ${kerasLayerName(layer)} has inbound_nodes in a form tfjs does not read (Keras 3?); expected lists of [layer, node, tensor]`);
    }
    return node.map((entry) => {
      const [name, nodeIndex, tensorIndex] = entry as [string, number, number];
      return { layer: String(name), nodeIndex: Number(nodeIndex ?? 0), tensorIndex: Number(tensorIndex ?? 0) };
    });
  });
}

function functionalGraph(layers: KerasLayer[], config: Record<string, unknown>, modelPath: string): KerasModelGraph {
  const byName = new Map(layers.map((layer) => [kerasLayerName(layer), layer]));
  const inputs = endpoints(config.input_layers).map((ref) => {
    const layer = byName.get(ref.layer);
    if (!layer) throw new FormatError(`${modelPath}: input layer ${ref.layer} is not among the model's layers`);
    return inputOf(layer, ref.layer, modelPath);
  });
  const available = new Set(inputs.map((input) => tensorKey({ layer: input.name, nodeIndex: 0, tensorIndex: 0 })));
  let pending: KerasLayerCall[] = layers
    .filter((layer) => layer.class_name !== 'InputLayer')
    .flatMap((layer) => inboundNodes(layer, modelPath).map((refs, nodeIndex) => ({ layer, name: kerasLayerName(layer), nodeIndex, inputs: refs })));
  const calls: KerasLayerCall[] = [];
  // Keras lists layers roughly in order; repeat passes until every call's inputs exist.
  while (pending.length > 0) {
    const ready = pending.filter((call) => call.inputs.every((ref) => available.has(tensorKey(ref))));
    if (ready.length === 0) {
      const stuck = pending[0]!;
      const missing = stuck.inputs.find((ref) => !available.has(tensorKey(ref)))!;
      throw new FormatError(`${modelPath}: layer ${stuck.name} reads ${missing.layer} (node ${missing.nodeIndex}), which nothing produces`);
    }
    for (const call of ready) {
      calls.push(call);
      // Multi-output layers expose tensors 0..n-1 of a node; the converter says how many it made.
      for (let tensorIndex = 0; tensorIndex < 8; tensorIndex++) available.add(tensorKey({ layer: call.name, nodeIndex: call.nodeIndex, tensorIndex }));
    }
    pending = pending.filter((call) => !ready.includes(call));
  }
  const outputRefs = endpoints(config.output_layers);
  const used = new Map<string, number>();
  const outputs = outputRefs.map((ref) => {
    const count = used.get(ref.layer) ?? 0;
    used.set(ref.layer, count + 1);
    return { name: count === 0 ? ref.layer : `${ref.layer}_${count}`, ref };
  });
  return { inputs, calls, outputs };
}
