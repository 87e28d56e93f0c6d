import type { ValueSummary } from '../inspect/model-description.js';

/**
 * Reading a LayersModel's Keras config: the forms written by tfjs (`modelTopology` is the model config)
 * and by the Keras converter (`modelTopology.model_config`), for Sequential and Functional models.
 */

export interface KerasLayer {
  class_name: string;
  config: Record<string, unknown>;
  name?: string;
  [field: string]: unknown;
}

interface KerasModelConfig {
  class_name: string;
  config: Record<string, unknown> | KerasLayer[];
}

/** Layer classes that hold other layers rather than compute anything themselves. */
const CONTAINER_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

export function kerasModelConfig(modelTopology: Record<string, unknown>): KerasModelConfig {
  return (modelTopology.model_config ?? modelTopology) as KerasModelConfig;
}

/** The top-level layers; older Keras wrote a Sequential model's config as the bare layer list. */
export function kerasLayers(model: KerasModelConfig): KerasLayer[] {
  const layers = Array.isArray(model.config) ? model.config : model.config?.layers;
  return Array.isArray(layers) ? (layers as KerasLayer[]) : [];
}

function layerName(layer: KerasLayer): string {
  return String(layer.config?.name ?? layer.name ?? layer.class_name);
}

/**
 * Count of each layer class, nested models counted by their layers. InputLayer is left out: it computes
 * nothing, the same way ONNX graph inputs are not operators.
 */
export function kerasLayerClassCounts(modelTopology: Record<string, unknown>): Record<string, number> {
  const counts: Record<string, number> = {};
  const visit = (layers: KerasLayer[]): void => {
    for (const layer of layers) {
      if (CONTAINER_CLASSES.has(layer.class_name)) visit(kerasLayers(layer as KerasModelConfig));
      else if (layer.class_name !== 'InputLayer') counts[layer.class_name] = (counts[layer.class_name] ?? 0) + 1;
    }
  };
  visit(kerasLayers(kerasModelConfig(modelTopology)));
  return counts;
}

/** Keras 2 writes `batch_input_shape`, Keras 3 `batch_shape`; unknown sizes are null. */
function batchShape(layer: KerasLayer | undefined): Array<number | null> | null {
  const shape = layer?.config?.batch_input_shape ?? layer?.config?.batch_shape;
  return Array.isArray(shape) ? shape.map((size) => (typeof size === 'number' ? size : null)) : null;
}

function layerDtype(layer: KerasLayer | undefined): string {
  const dtype = layer?.config?.dtype;
  return typeof dtype === 'string' ? dtype : 'float32';
}

/** `input_layers` / `output_layers` entries are [layerName, nodeIndex, tensorIndex]; one may stand alone. */
function endpointLayerNames(endpoints: unknown): string[] {
  if (!Array.isArray(endpoints)) return [];
  const list = typeof endpoints[0] === 'string' ? [endpoints] : endpoints;
  return list.map((endpoint) => String(Array.isArray(endpoint) ? endpoint[0] : endpoint));
}

export function kerasModelInputs(modelTopology: Record<string, unknown>): ValueSummary[] {
  const model = kerasModelConfig(modelTopology);
  const layers = kerasLayers(model);
  if (model.class_name === 'Sequential' || Array.isArray(model.config)) {
    const first = layers[0];
    return first === undefined ? [] : [{ name: layerName(first), dtype: layerDtype(first), shape: batchShape(first) }];
  }
  return endpointLayerNames((model.config as Record<string, unknown>).input_layers).map((name) => {
    const layer = layers.find((candidate) => layerName(candidate) === name);
    return { name, dtype: layerDtype(layer), shape: batchShape(layer) };
  });
}

/** Output shapes are not written in the config (they come from running shape inference), so null. */
export function kerasModelOutputs(modelTopology: Record<string, unknown>): ValueSummary[] {
  const model = kerasModelConfig(modelTopology);
  const layers = kerasLayers(model);
  if (model.class_name === 'Sequential' || Array.isArray(model.config)) {
    const last = layers.at(-1);
    return last === undefined ? [] : [{ name: layerName(last), dtype: layerDtype(last), shape: null }];
  }
  return endpointLayerNames((model.config as Record<string, unknown>).output_layers).map((name) => {
    const layer = layers.find((candidate) => layerName(candidate) === name);
    return { name, dtype: layerDtype(layer), shape: null };
  });
}
