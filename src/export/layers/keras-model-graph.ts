import { FormatError } from '../../errors.js';
import { kerasLayers, kerasModelConfig, type KerasLayer } from '../../tfjs/layers-topology.js';

/**
 * A Keras LayersModel topology as a flat list of layer calls in an order where every call's inputs exist:
 * Sequential models are a chain, functional ones come from each layer's `inbound_nodes`, and a model used as
 * a layer inside another is inlined call by call. A layer called at several inbound nodes (a shared layer)
 * appears once per call; its weights are the same every time. Tensors are named by keys
 * `<scope><layer>:<node>:<tensor>`, the scope telling apart the calls of a nested model used twice.
 */

export interface KerasLayerCall {
  layer: KerasLayer;
  /** The layer's name: its weights' prefix and the hint for what it emits. */
  name: string;
  /** Keys of the tensors it reads. */
  inputs: string[];
  /** Output `i` of this call has key `${outputKey}:${i}`. */
  outputKey: string;
}

export interface KerasModelInput {
  name: string;
  key: string;
  /** With the batch dimension first; null for a dimension the model leaves open. */
  batchShape: Array<number | null>;
  dtype: string;
}

export interface KerasModelGraph {
  inputs: KerasModelInput[];
  /** Every call but the InputLayers', in an order where each call's inputs were produced before. */
  calls: KerasLayerCall[];
  outputs: Array<{ name: string; key: string }>;
}

interface KerasTensorRef {
  layer: string;
  nodeIndex: number;
  tensorIndex: number;
}

/** Keras containers: called as a layer, they stand for their own layers. */
const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

export function kerasLayerName(layer: KerasLayer): string {
  return String(layer.config?.name ?? layer.name ?? layer.class_name);
}

export function kerasModelGraph(modelTopology: Record<string, unknown>, modelPath: string): KerasModelGraph {
  const model = kerasModelConfig(modelTopology) as KerasLayer;
  const layers = kerasLayers(model as never);
  if (layers.length === 0) throw new FormatError(`${modelPath}: the LayersModel has no layers`);
  const inputs = modelInputs(model, layers, modelPath);
  const calls: KerasLayerCall[] = [];
  const outputKeys = expandModel(model, inputs.map((input) => input.key), '', calls, modelPath);
  const names = isSequential(model) ? [calls.at(-1)?.name ?? inputs[0]!.name] : endpoints((model.config as Record<string, unknown>).output_layers).map((ref) => ref.layer);
  const used = new Map<string, number>();
  const outputs = outputKeys.map((key, index) => {
    const name = names[index] ?? `output_${index}`;
    const count = used.get(name) ?? 0;
    used.set(name, count + 1);
    return { name: count === 0 ? name : `${name}_${count}`, key };
  });
  return { inputs, calls, outputs };
}

function isSequential(model: KerasLayer): boolean {
  return model.class_name === 'Sequential' || Array.isArray(model.config);
}

function batchShapeOf(layer: KerasLayer): Array<number | null> | undefined {
  const shape = layer.config?.batch_input_shape ?? layer.config?.batch_shape;
  return Array.isArray(shape) ? shape.map((size) => (typeof size === 'number' ? size : null)) : undefined;
}

function modelInput(layer: KerasLayer, name: string, key: string, modelPath: string): KerasModelInput {
  const batchShape = batchShapeOf(layer);
  if (!batchShape) throw new FormatError(`${modelPath}: layer ${kerasLayerName(layer)} starts the model but declares no batch_input_shape`);
  return { name, key, batchShape, dtype: typeof layer.config?.dtype === 'string' ? layer.config.dtype : 'float32' };
}

/** tfjs names a Sequential model's implicit input `<first layer>_input` (Sequential.add). */
function modelInputs(model: KerasLayer, layers: KerasLayer[], modelPath: string): KerasModelInput[] {
  if (isSequential(model)) {
    const first = layers[0]!;
    const name = first.class_name === 'InputLayer' ? kerasLayerName(first) : `${kerasLayerName(first)}_input`;
    return [modelInput(first, name, `${name}:0:0`, modelPath)];
  }
  const byName = new Map(layers.map((layer) => [kerasLayerName(layer), layer]));
  return endpoints((model.config as Record<string, unknown>).input_layers).map((ref) => {
    const layer = byName.get(ref.layer);
    if (!layer) throw new FormatError(`${modelPath}: input layer ${ref.layer} is not among the model's layers`);
    return modelInput(layer, ref.layer, `${ref.layer}:0:0`, modelPath);
  });
}

/** Append the calls of `model` applied to `inputKeys`; returns the keys of its outputs. */
function expandModel(model: KerasLayer, inputKeys: string[], scope: string, calls: KerasLayerCall[], modelPath: string): string[] {
  const layers = kerasLayers(model as never);
  return isSequential(model) ? expandSequential(layers, inputKeys[0]!, scope, calls, modelPath) : expandFunctional(model, layers, inputKeys, scope, calls, modelPath);
}

function expandSequential(layers: KerasLayer[], inputKey: string, scope: string, calls: KerasLayerCall[], modelPath: string): string[] {
  let current = inputKey;
  for (const layer of layers) {
    if (layer.class_name === 'InputLayer') continue;
    const name = kerasLayerName(layer);
    if (MODEL_CLASSES.has(layer.class_name)) {
      current = expandModel(layer, [current], `${scope}${name}#0/`, calls, modelPath)[0]!;
      continue;
    }
    calls.push({ layer, name, inputs: [current], outputKey: `${scope}${name}:0` });
    current = `${scope}${name}:0:0`;
  }
  return [current];
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

interface PendingCall {
  layer: KerasLayer;
  name: string;
  nodeIndex: number;
  refs: KerasTensorRef[];
}

function expandFunctional(model: KerasLayer, layers: KerasLayer[], inputKeys: string[], scope: string, calls: KerasLayerCall[], modelPath: string): string[] {
  const config = model.config as Record<string, unknown>;
  // Key of every tensor produced so far, by the reference Keras writes for it.
  const produced = new Map<string, string>();
  const refKey = (ref: KerasTensorRef) => `${ref.layer}:${ref.nodeIndex}:${ref.tensorIndex}`;
  endpoints(config.input_layers).forEach((ref, index) => produced.set(refKey({ ...ref, nodeIndex: 0, tensorIndex: 0 }), inputKeys[index]!));
  let pending: PendingCall[] = layers
    .filter((layer) => layer.class_name !== 'InputLayer')
    .flatMap((layer) => inboundNodes(layer, modelPath).map((refs, nodeIndex) => ({ layer, name: kerasLayerName(layer), nodeIndex, refs })));
  // Keras lists layers roughly in order; repeat passes until every call's inputs exist.
  while (pending.length > 0) {
    const ready = pending.filter((call) => call.refs.every((ref) => produced.has(refKey(ref))));
    if (ready.length === 0) {
      const stuck = pending[0]!;
      const missing = stuck.refs.find((ref) => !produced.has(refKey(ref)))!;
      throw new FormatError(`${modelPath}: layer ${stuck.name} reads ${missing.layer} (node ${missing.nodeIndex}), which nothing produces`);
    }
    for (const call of ready) {
      const inputs = call.refs.map((ref) => produced.get(refKey(ref))!);
      if (MODEL_CLASSES.has(call.layer.class_name)) {
        // A nested model's node 0 is the one that built it; its calls in this model are numbered from 1.
        const outputs = expandModel(call.layer, inputs, `${scope}${call.name}#${call.nodeIndex}/`, calls, modelPath);
        outputs.forEach((key, tensorIndex) => produced.set(refKey({ layer: call.name, nodeIndex: call.nodeIndex + 1, tensorIndex }), key));
        continue;
      }
      const outputKey = `${scope}${call.name}:${call.nodeIndex}`;
      calls.push({ layer: call.layer, name: call.name, inputs, outputKey });
      // Multi-output layers expose tensors 0..n-1 of a node; the converter says how many it made.
      for (let tensorIndex = 0; tensorIndex < 8; tensorIndex++) produced.set(refKey({ layer: call.name, nodeIndex: call.nodeIndex, tensorIndex }), `${outputKey}:${tensorIndex}`);
    }
    pending = pending.filter((call) => !ready.includes(call));
  }
  return endpoints(config.output_layers).map((ref) => {
    const key = produced.get(refKey(ref));
    if (!key) throw new FormatError(`${modelPath}: model output ${ref.layer} (node ${ref.nodeIndex}) is not produced by any layer`);
    return key;
  });
}
