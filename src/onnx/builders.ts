import { ONNX_TYPE, onnxDataTypeByName } from './data-types.js';
import {
  ATTRIBUTE_TYPE,
  AttributeProto,
  GraphProto,
  Int64,
  ModelProto,
  NodeProto,
  TensorProto,
  TypeProto,
  ValueInfoProto,
} from './onnx-proto.js';

/** Constructors for ONNX messages, used by passes that add nodes and by the fixture builder. */

export type AttributeValue =
  | number
  | string
  | number[]
  | string[]
  | TensorProto
  | GraphProto
  | { int: Int64 }
  | { ints: Int64[] }
  | { float: number }
  | { floats: number[] };

/**
 * Integers and floats are told apart by `Number.isInteger`; pass `{int}`/`{ints}` to force INT(S) and
 * `{float}`/`{floats}` to force FLOAT(S) (an alpha of 1.0 must stay a float attribute).
 */
export function makeAttribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string') return { name, type: ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: ATTRIBUTE_TYPE.INT, i: value } : { name, type: ATTRIBUTE_TYPE.FLOAT, f: value };
  }
  if (Array.isArray(value)) {
    if (value.every((item) => typeof item === 'string')) {
      return { name, type: ATTRIBUTE_TYPE.STRINGS, strings: (value as string[]).map((item) => new TextEncoder().encode(item)) };
    }
    const numbers = value as number[];
    return numbers.every(Number.isInteger)
      ? { name, type: ATTRIBUTE_TYPE.INTS, ints: numbers }
      : { name, type: ATTRIBUTE_TYPE.FLOATS, floats: numbers };
  }
  if ('int' in value) return { name, type: ATTRIBUTE_TYPE.INT, i: (value as { int: Int64 }).int };
  if ('ints' in value) return { name, type: ATTRIBUTE_TYPE.INTS, ints: (value as { ints: Int64[] }).ints };
  if ('float' in value) return { name, type: ATTRIBUTE_TYPE.FLOAT, f: (value as { float: number }).float };
  if ('floats' in value) return { name, type: ATTRIBUTE_TYPE.FLOATS, floats: (value as { floats: number[] }).floats };
  if ('node' in value || 'initializer' in value || 'output' in value) return { name, type: ATTRIBUTE_TYPE.GRAPH, g: value as GraphProto };
  return { name, type: ATTRIBUTE_TYPE.TENSOR, t: value as TensorProto };
}

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, AttributeValue> = {},
  options: { name?: string; domain?: string } = {},
): NodeProto {
  const node: NodeProto = {
    input: inputs,
    output: outputs,
    name: options.name ?? `${opType}_${outputs[0]}`,
    op_type: opType,
    attribute: Object.entries(attributes).map(([name, value]) => makeAttribute(name, value)),
  };
  if (options.domain) node.domain = options.domain;
  return node;
}

/** A tensor with its values as raw little-endian bytes (the layout every runtime reads fastest). */
export function makeTensor(name: string, dataType: number, dims: number[], values: ArrayBufferView): TensorProto {
  return {
    name,
    dims,
    data_type: dataType,
    raw_data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

export function makeFloatTensor(name: string, dims: number[], values: Float32Array | number[]): TensorProto {
  return makeTensor(name, ONNX_TYPE.FLOAT32!, dims, values instanceof Float32Array ? values : Float32Array.from(values));
}

export function makeInt64Tensor(name: string, dims: number[], values: Array<number | bigint>): TensorProto {
  return makeTensor(name, ONNX_TYPE.INT64!, dims, BigInt64Array.from(values.map((value) => BigInt(value))));
}

/** A tensor value's type; dims are numbers, symbolic names, or null for unknown. */
export function makeTensorType(elementType: number | string, shape: Array<number | string | null>): TypeProto {
  const code = typeof elementType === 'string' ? onnxDataTypeByName(elementType)!.code : elementType;
  return {
    tensor_type: {
      elem_type: code,
      shape: { dim: shape.map((dim) => (dim === null ? {} : typeof dim === 'string' ? { dim_param: dim } : { dim_value: dim })) },
    },
  };
}

export function makeValueInfo(name: string, elementType: number | string, shape: Array<number | string | null>): ValueInfoProto {
  return { name, type: makeTensorType(elementType, shape) };
}

export function makeGraph(parts: {
  name: string;
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers?: TensorProto[];
}): GraphProto {
  return { node: parts.nodes, name: parts.name, initializer: parts.initializers ?? [], input: parts.inputs, output: parts.outputs };
}

export function makeModel(graph: GraphProto, opsets: Record<string, number> = { '': 17 }, irVersion = 8): ModelProto {
  return {
    ir_version: irVersion,
    producer_name: 'modelpress',
    opset_import: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    graph,
  };
}
