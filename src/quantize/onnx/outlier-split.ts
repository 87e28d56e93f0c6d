import type { ObservedRange } from '../../calibration/activation-statistics.js';
import { makeInt64Tensor, makeNode } from '../../onnx/builders.js';
import { ONNX_TYPE } from '../../onnx/data-types.js';
import type { OnnxGraph } from '../../onnx/graph.js';
import { opsetVersion } from '../../onnx/graph.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { NodeProto, TensorProto } from '../../onnx/onnx-proto.js';
import { tensorByteLength } from '../../onnx/tensor-data.js';
import type { TensorDecision } from '../quantize-report.js';
import { bytesOf, deferQuantization } from './deferred-quantization.js';
import { bytesOfTensors, describeGranularity, insertNodesBefore, planDequantizedWeight, WeightEncoding, WeightGroup } from './qdq-weights.js';
import { ValueNames } from '../../onnx/value-names.js';

/**
 * --outlier-threshold T, after LLM.int8() (Dettmers et al. 2022, bitsandbytes' threshold): a few input
 * features of a MatMul carry activations far larger than the rest, and quantizing them with everything
 * else costs most of the error. Those features' slice of the product stays float:
 *   Y = X[..., outliers] @ W[outliers, :]  (float)  +  X[..., rest] @ dequant(Wq[rest, :])  (8-bit)
 * with the feature slices taken by Gather on X's last axis and W's rows split when the model is saved.
 */

export interface OutlierFeatures {
  /** Input features (X's last axis, W's rows) kept float, ascending. */
  outliers: number[];
  rest: number[];
  /** One byte per feature: 1 for an outlier. */
  mask: Uint8Array;
}

/** Features whose calibrated |activation| exceeded `threshold` in some sample. */
export function selectOutlierFeatures(observed: ObservedRange, threshold: number): OutlierFeatures {
  const { featureMin, featureMax } = observed;
  if (!featureMin || !featureMax) throw new Error('internal: per-feature ranges were not collected');
  const mask = new Uint8Array(featureMin.length);
  const outliers: number[] = [];
  const rest: number[] = [];
  for (let feature = 0; feature < mask.length; feature++) {
    if (Math.max(-featureMin[feature]!, featureMax[feature]!) > threshold) {
      mask[feature] = 1;
      outliers.push(feature);
    } else rest.push(feature);
  }
  return { outliers, rest, mask };
}

/** The axis Gather must use for X's last axis: -1 from opset 11, otherwise X's rank must be known. */
function lastAxisForGather(model: OnnxModel, graph: OnnxGraph, value: string): number | undefined {
  if ((opsetVersion(model.proto, '') ?? 1) >= 11) return -1;
  const info = [...graph.proto.input!, ...(graph.proto.value_info ?? [])].find((candidate) => candidate.name === value);
  const rank = info?.type?.tensor_type?.shape?.dim?.length;
  return rank ? rank - 1 : undefined;
}

/** Why this MatMul's weight cannot be split, or undefined when it can. */
export function outlierSplitBlocker(model: OnnxModel, group: WeightGroup, features: OutlierFeatures): string | undefined {
  const use = group.uses[0]!;
  if (group.uses.length !== 1 || use.node.op_type !== 'MatMul') return 'the outlier split rewrites a weight read by one MatMul only';
  if (group.dims.length !== 2) return 'the outlier split needs a 2-D weight';
  if (features.mask.length !== group.dims[0]) return `the activation has ${features.mask.length} features, the weight ${group.dims[0]} rows`;
  if (lastAxisForGather(model, use.graph, use.node.input![0]!) === undefined) return "Gather on the last axis needs opset 11 or a known activation rank";
  return undefined;
}

/**
 * Rewrite the weight's MatMul into a float product over the outlier features and an 8-bit one over the
 * rest. `quantizeRest`, when given, puts activation quantization on X[..., rest] (int8-static) and returns
 * the value the quantized MatMul should read. Call outlierSplitBlocker first.
 */
export function splitOutlierMatMul(
  model: OnnxModel,
  valueNames: ValueNames,
  group: WeightGroup,
  features: OutlierFeatures,
  encoding: WeightEncoding,
  perChannel: boolean,
  quantizeRest?: (graph: OnnxGraph, restValue: string, consumer: NodeProto) => string,
): TensorDecision {
  const { weightGraph, weight, dims } = group;
  const { graph, node: matmul } = group.uses[0]!;
  const name = weight.name ?? '';
  const [input, output] = [matmul.input![0]!, matmul.output![0]!];
  const [rows, columns] = [dims[0]!, dims[1]!];
  const axis = lastAxisForGather(model, graph, input)!;
  const { outliers, rest } = features;

  const outlierIndices = makeInt64Tensor(valueNames.fresh(`${name}_outlier_features`), [outliers.length], outliers);
  const restIndices = makeInt64Tensor(valueNames.fresh(`${name}_quantized_features`), [rest.length], rest);
  const outlierRows: TensorProto = { name: valueNames.fresh(`${name}_outlier_rows`), dims: [outliers.length, columns], data_type: ONNX_TYPE.FLOAT32 };
  for (const tensor of [outlierIndices, restIndices, outlierRows]) weightGraph.addInitializer(tensor);
  const quantizedAxis = perChannel ? 1 : undefined;
  const plan = planDequantizedWeight(model.proto, valueNames, `${name}_rest`, [rest.length, columns], quantizedAxis, encoding);

  const value = (base: string) => valueNames.fresh(`${output}_${base}`);
  const [outlierInput, restInput, outlierProduct, restProduct] = [value('outlier_input'), value('rest_input'), value('outlier_product'), value('rest_product')];
  const gathers = [
    makeNode('Gather', [input, outlierIndices.name!], [outlierInput], { axis }, { name: `${matmul.name ?? output}_outlier_gather` }),
    makeNode('Gather', [input, restIndices.name!], [restInput], { axis }, { name: `${matmul.name ?? output}_rest_gather` }),
  ];
  const quantizedMatMul = makeNode('MatMul', [restInput, plan.output], [restProduct], {}, { name: `${matmul.name ?? output}_quantized` });
  graph.replaceNode(matmul, [
    ...gathers,
    makeNode('MatMul', [outlierInput, outlierRows.name!], [outlierProduct], {}, { name: `${matmul.name ?? output}_outliers` }),
    quantizedMatMul,
    makeNode('Add', [outlierProduct, restProduct], [output], {}, { name: `${matmul.name ?? output}_sum` }),
  ]);
  for (const tensor of plan.tensors) weightGraph.addInitializer(tensor);
  insertNodesBefore(graph, plan.nodes, [quantizedMatMul]);
  if (quantizeRest) quantizedMatMul.input![0] = quantizeRest(graph, restInput, quantizedMatMul);
  weightGraph.removeInitializer(name);
  weightGraph.invalidate();

  const pickRows = (values: Float32Array, picked: number[]) => {
    const result = new Float32Array(picked.length * columns);
    picked.forEach((row, index) => result.set(values.subarray(row * columns, (row + 1) * columns), index * columns));
    return result;
  };
  deferQuantization(model, weight, [outlierRows, ...plan.tensors], (values) => [bytesOf(pickRows(values, outliers)), ...plan.encode(pickRows(values, rest)).bytes]);
  return {
    weight: name,
    node: matmul.name,
    opType: 'MatMul',
    action: 'quantized',
    storage: `${encoding.grid.name} ${describeGranularity(quantizedAxis)} (${encoding.spelling.name}), ${outliers.length} of ${rows} input features float`,
    elements: rows * columns,
    bytesBefore: tensorByteLength(weight) ?? 0,
    bytesAfter: bytesOfTensors([outlierRows, outlierIndices, restIndices, ...plan.tensors]),
    detail: { outlierFeatures: outliers.length },
  };
}
