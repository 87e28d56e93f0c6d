import { promises as fs } from 'node:fs';
import path from 'node:path';
import { onnxDataTypeName } from '../onnx/data-types.js';
import { allNodes } from '../onnx/graph-walk.js';
import { loadOnnxModel, OnnxModel } from '../onnx/onnx-model.js';
import type { TypeProto, ValueInfoProto } from '../onnx/onnx-proto.js';
import { tensorByteLength, tensorDims, tensorElementCount } from '../onnx/tensor-data.js';
import type { DtypeTotals, ModelDescription, TensorSummary, ValueSummary } from './model-description.js';

const LARGEST_TENSORS = 10;

function typeDescription(type: TypeProto | undefined): Pick<ValueSummary, 'dtype' | 'shape'> {
  const tensor = type?.tensor_type ?? type?.sparse_tensor_type;
  if (tensor) {
    const shape = tensor.shape
      ? (tensor.shape.dim ?? []).map((dim) => (dim.dim_value !== undefined ? Number(dim.dim_value) : dim.dim_param ?? null))
      : null;
    return { dtype: onnxDataTypeName(tensor.elem_type), shape };
  }
  if (type?.sequence_type) return { dtype: `sequence<${typeDescription(type.sequence_type.elem_type).dtype}>`, shape: null };
  if (type?.map_type) return { dtype: `map<${onnxDataTypeName(type.map_type.key_type)},…>`, shape: null };
  if (type?.optional_type) return { dtype: `optional<${typeDescription(type.optional_type.elem_type).dtype}>`, shape: null };
  return { dtype: 'unknown', shape: null };
}

function valueSummary(value: ValueInfoProto): ValueSummary {
  return { name: value.name ?? '', ...typeDescription(value.type) };
}

/** Describe a loaded ONNX model: reads only the protobuf and the sizes of its external data files. */
export async function describeOnnx(model: OnnxModel): Promise<ModelDescription> {
  const graph = model.proto.graph!;
  const initializerNames = new Set((graph.initializer ?? []).map((tensor) => tensor.name));

  const operators: Record<string, number> = {};
  for (const node of allNodes(model.proto)) {
    const domain = node.domain ?? '';
    const key = domain === '' || domain === 'ai.onnx' ? node.op_type ?? '' : `${domain}.${node.op_type ?? ''}`;
    operators[key] = (operators[key] ?? 0) + 1;
  }

  const byDtype: Record<string, DtypeTotals> = {};
  const tensors: TensorSummary[] = [];
  let count = 0;
  let bytes = 0;
  for (const weight of model.weights()) {
    const dtype = onnxDataTypeName(weight.tensor.data_type);
    const elements = tensorElementCount(weight.tensor);
    const size = tensorByteLength(weight.tensor) ?? 0;
    const totals = (byDtype[dtype] ??= { tensors: 0, parameters: 0, bytes: 0 });
    totals.tensors++;
    totals.parameters += elements;
    totals.bytes += size;
    count += elements;
    bytes += size;
    tensors.push({ name: weight.name, dtype, shape: tensorDims(weight.tensor), bytes: size });
  }
  tensors.sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));

  const dataFiles = await Promise.all(
    model.externalDataFiles().map(async (file) => ({
      path: path.relative(model.directory, file),
      bytes: (await fs.stat(file)).size,
    })),
  );

  return {
    path: model.path,
    format: 'onnx',
    formatVersion: {
      irVersion: Number(model.proto.ir_version),
      opsets: Object.fromEntries((model.proto.opset_import ?? []).map((opset) => [opset.domain || 'ai.onnx', Number(opset.version)])),
      producer: [model.proto.producer_name, model.proto.producer_version].filter(Boolean).join(' ') || undefined,
    },
    // Initializers listed as graph inputs (IR < 4 style) are weights, not inputs a user feeds.
    inputs: (graph.input ?? []).filter((input) => !initializerNames.has(input.name)).map(valueSummary),
    outputs: (graph.output ?? []).map(valueSummary),
    operators,
    parameters: { count, bytes, byDtype },
    largestTensors: tensors.slice(0, LARGEST_TENSORS),
    dataFiles,
  };
}

export async function describeOnnxModel(modelPath: string): Promise<ModelDescription> {
  return describeOnnx(await loadOnnxModel(modelPath));
}
