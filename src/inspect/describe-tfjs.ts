import type { DtypeTotals, ModelDescription, TensorSummary } from './model-description.js';
import { graphInputs, graphOpCounts, graphOutputs } from '../tfjs/graph-topology.js';
import { kerasLayerClassCounts, kerasModelInputs, kerasModelOutputs } from '../tfjs/layers-topology.js';
import { loadTfjsModel } from '../tfjs/load-tfjs-model.js';
import { elementCount } from '../tfjs/weight-dtypes.js';
import { storedDtypeOf } from '../tfjs/weight-layout.js';

const LARGEST_TENSORS_SHOWN = 10;

/**
 * Describe a TF.js model.json for `inspect`, reading only model.json and the shard sizes. Weights are
 * counted by the dtype they are stored as (a uint8-quantized float32 weight counts as uint8), because
 * what inspect answers is what the model costs on disk and over the network.
 */
export async function describeTfjsModel(modelJsonPath: string): Promise<ModelDescription> {
  const model = await loadTfjsModel(modelJsonPath);
  const { json } = model;
  const topology = json.modelTopology;
  const isLayers = model.kind === 'layers-model';

  const byDtype: Record<string, DtypeTotals> = {};
  const tensors: TensorSummary[] = [];
  for (const weight of model.weights) {
    const dtype = storedDtypeOf(weight.spec);
    const parameters = elementCount(weight.spec.shape);
    const totals = (byDtype[dtype] ??= { tensors: 0, parameters: 0, bytes: 0 });
    totals.tensors += 1;
    totals.parameters += parameters;
    totals.bytes += weight.byteLength;
    tensors.push({ name: weight.spec.name, dtype, shape: weight.spec.shape, bytes: weight.byteLength });
  }
  const totals = Object.values(byDtype);

  return {
    path: modelJsonPath,
    format: isLayers ? 'tfjs-layers' : 'tfjs-graph',
    formatVersion: {
      format: json.format ?? null,
      generatedBy: json.generatedBy ?? null,
      convertedBy: json.convertedBy ?? null,
    },
    inputs: isLayers ? kerasModelInputs(topology) : graphInputs(json, topology),
    outputs: isLayers ? kerasModelOutputs(topology) : graphOutputs(json, topology),
    operators: isLayers ? kerasLayerClassCounts(topology) : graphOpCounts(topology),
    parameters: {
      count: totals.reduce((sum, entry) => sum + entry.parameters, 0),
      bytes: totals.reduce((sum, entry) => sum + entry.bytes, 0),
      byDtype,
    },
    // Stable sort: equal sizes keep manifest order.
    largestTensors: tensors.sort((a, b) => b.bytes - a.bytes).slice(0, LARGEST_TENSORS_SHOWN),
    dataFiles: model.shards.map((shard) => ({ path: shard.path, bytes: shard.bytes })),
  };
}
