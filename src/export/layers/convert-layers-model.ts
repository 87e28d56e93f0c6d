import { ModelpressError, messageOf } from '../../errors.js';
import type { KerasLayer } from '../../tfjs/layers-topology.js';
import type { TfjsModel } from '../../tfjs/load-tfjs-model.js';
import { UnsupportedFeaturesError, type ExportOptions, type TfjsToOnnxConverter, type UnsupportedFeature } from '../export-contract.js';
import { OnnxGraphEmitter } from '../onnx-emitter.js';
import { isSupportedActivation } from './activations.js';
import { configuredActivations } from './activation-layers.js';
import { kerasLayerName, kerasModelGraph, type KerasLayerCall, type KerasModelInput } from './keras-model-graph.js';
import type { Dim, KerasValue, LayerEmitContext, UnsupportedSetting } from './layer-converter.js';
import { LAYER_CONVERTERS } from './layer-table.js';
import { ModelWeights, type LayerWeights } from './layer-weights.js';
import { SELF_CHECKED_ACTIVATIONS } from './recurrent-layers.js';

/**
 * TF.js LayersModel -> ONNX: check every layer against the layer table first (so all unsupported layers,
 * activations and settings are reported together and nothing is emitted), then emit the layer calls in
 * order. Graph inputs and outputs keep the Keras names tfjs uses (input layer names, output layer names).
 */
export const convertLayersModel: TfjsToOnnxConverter = async (model, options) => {
  const graph = kerasModelGraph(model.json.modelTopology, model.modelJsonPath);
  const seen = new Set<string>();
  const features: UnsupportedFeature[] = [];
  for (const call of graph.calls) {
    if (seen.has(call.name)) continue;
    seen.add(call.name);
    features.push(...unsupportedIn(call.layer).map((setting) => asFeature(setting, call.name, call.layer.class_name)));
  }
  if (features.length > 0) throw new UnsupportedFeaturesError(model.modelJsonPath, features);

  const weights = await ModelWeights.read(model);
  const emitter = new OnnxGraphEmitter(modelName(model));
  for (const output of graph.outputs) emitter.reserveName(output.name);
  const values = new Map<string, KerasValue>();
  for (const input of graph.inputs) {
    const shape = interfaceShape(input.batchShape, options);
    emitter.addInput(input.name, input.dtype === 'int32' ? 'int32' : 'float32', shape);
    values.set(input.key, { name: input.name, shape: input.batchShape });
  }
  const constants = new Map<string, string>();
  for (const call of graph.calls) {
    const inputs = call.inputs.map((key) => values.get(key)!);
    const outputs = emitCall(model, { emitter, opset: options.opset, constants, weights }, call, inputs);
    outputs.forEach((value, tensorIndex) => values.set(`${call.outputKey}:${tensorIndex}`, value));
  }
  for (const output of graph.outputs) {
    const value = values.get(output.key);
    if (!value) throw new ModelpressError(`${model.modelJsonPath}: output ${output.name} is not produced by any layer`);
    emitter.node('Identity', [value.name], { name: `${output.name}_output`, outputs: [output.name] });
    emitter.addOutput(output.name, 'float32', interfaceShape(value.shape, options));
  }
  return { proto: emitter.toModel(options.opset), inputNames: graph.inputs.map((input: KerasModelInput) => input.name), outputNames: graph.outputs.map((output) => output.name) };
};

function modelName(model: TfjsModel): string {
  const topology = model.json.modelTopology as { model_config?: { config?: { name?: unknown } }; config?: { name?: unknown } };
  const name = topology.model_config?.config?.name ?? topology.config?.name;
  return typeof name === 'string' ? name : 'tfjs_layers_model';
}

/** The batch dimension is symbolic ('batch') unless the export fixes it; other open sizes stay unknown. */
function interfaceShape(shape: Dim[], options: ExportOptions): Array<number | string | null> {
  return shape.map((size, axis) => (axis === 0 ? (options.dynamicBatch ? 'batch' : (size ?? 1)) : size));
}

/** Everything in one layer (and the layer it wraps) that cannot be exported. */
function unsupportedIn(layer: KerasLayer): UnsupportedSetting[] {
  const converter = LAYER_CONVERTERS[layer.class_name];
  if (!converter) return [{ kind: 'layer', name: layer.class_name }];
  const config = layer.config ?? {};
  const found: UnsupportedSetting[] = [];
  if (!SELF_CHECKED_ACTIVATIONS.has(layer.class_name)) {
    for (const { value } of configuredActivations(config)) {
      if (!isSupportedActivation(value)) found.push({ kind: 'activation', name: typeof value === 'string' ? value : JSON.stringify(value) });
    }
  }
  found.push(...(converter.unsupported?.(config, (inner) => unsupportedIn(inner).map((setting) => ({ ...setting, detail: `in ${kerasLayerName(inner)}${setting.detail ? `: ${setting.detail}` : ''}` }))) ?? []));
  return found;
}

function asFeature(setting: UnsupportedSetting, where: string, className: string): UnsupportedFeature {
  if (setting.kind === 'layer') return { kind: 'layer', name: setting.name, where, detail: setting.detail };
  return { kind: setting.kind, name: setting.name, where, detail: setting.kind === 'attribute' ? `${className}${setting.detail ? `: ${setting.detail}` : ''}` : setting.detail };
}

interface EmitState {
  emitter: OnnxGraphEmitter;
  opset: number;
  /** Initializers by layer and weight key, shared by every call of a layer. */
  constants: Map<string, string>;
  weights: ModelWeights;
}

function emitCall(model: TfjsModel, state: EmitState, call: KerasLayerCall, inputs: KerasValue[]): KerasValue[] {
  try {
    return emitLayer(state, call.layer, call.name, inputs, state.weights.scope(call.name));
  } catch (error) {
    if (error instanceof ModelpressError) throw error;
    throw new ModelpressError(`${model.modelJsonPath}: cannot export layer ${call.name} (${call.layer.class_name}): ${messageOf(error)}`, { cause: error });
  }
}

function emitLayer(state: EmitState, layer: KerasLayer, name: string, inputs: KerasValue[], weights: LayerWeights): KerasValue[] {
  const converter = LAYER_CONVERTERS[layer.class_name]!;
  const context: LayerEmitContext = {
    emitter: state.emitter,
    opset: state.opset,
    className: layer.class_name,
    name,
    config: layer.config ?? {},
    weights,
    constant: (key, dims, build) => {
      const cacheKey = `${name}/${key}`;
      let constant = state.constants.get(cacheKey);
      if (constant === undefined) {
        constant = state.emitter.floatConstant(`${name}_${key}`, dims, build());
        state.constants.set(cacheKey, constant);
      }
      return constant;
    },
    convertInner: (inner, innerInputs, innerWeights) => emitLayer(state, inner, `${name}/${kerasLayerName(inner)}`, innerInputs, innerWeights),
  };
  return converter.convert(context, inputs);
}
