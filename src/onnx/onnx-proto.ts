import { SchemaCodec, DecodedMessage } from '../protobuf/schema-codec.js';
import type { Int64 } from '../protobuf/wire-types.js';
import { ONNX_PROTO_SCHEMA } from './onnx-schema.js';

/**
 * Typed views of the ONNX messages, field names exactly as in onnx.proto. Only the fields the passes use
 * are typed; everything else (and every unknown field) is carried along untouched by the codec.
 */

export type { Int64 };

export interface StringStringEntry extends DecodedMessage {
  key?: string;
  value?: string;
}

export interface OperatorSetId extends DecodedMessage {
  domain?: string;
  version?: Int64;
}

export interface TensorProto extends DecodedMessage {
  dims?: Int64[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data?: StringStringEntry[];
  data_location?: number;
  double_data?: number[];
  uint64_data?: Int64[];
}

export interface SparseTensorProto extends DecodedMessage {
  values?: TensorProto;
  indices?: TensorProto;
  dims?: Int64[];
}

export interface TensorShapeDimension extends DecodedMessage {
  dim_value?: Int64;
  dim_param?: string;
}

export interface TypeProto extends DecodedMessage {
  tensor_type?: { elem_type?: number; shape?: { dim?: TensorShapeDimension[] } } & DecodedMessage;
  sequence_type?: { elem_type?: TypeProto } & DecodedMessage;
  map_type?: { key_type?: number; value_type?: TypeProto } & DecodedMessage;
  optional_type?: { elem_type?: TypeProto } & DecodedMessage;
  sparse_tensor_type?: { elem_type?: number; shape?: { dim?: TensorShapeDimension[] } } & DecodedMessage;
}

export interface ValueInfoProto extends DecodedMessage {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
}

/** AttributeProto.AttributeType. */
export const ATTRIBUTE_TYPE = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9,
  GRAPHS: 10, SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

export interface AttributeProto extends DecodedMessage {
  name?: string;
  ref_attr_name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: SparseTensorProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
}

export interface NodeProto extends DecodedMessage {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
}

export interface GraphProto extends DecodedMessage {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparse_initializer?: SparseTensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

export interface FunctionProto extends DecodedMessage {
  name?: string;
  domain?: string;
  input?: string[];
  output?: string[];
  node?: NodeProto[];
  opset_import?: OperatorSetId[];
}

export interface TrainingInfoProto extends DecodedMessage {
  initialization?: GraphProto;
  algorithm?: GraphProto;
}

export interface ModelProto extends DecodedMessage {
  ir_version?: Int64;
  opset_import?: OperatorSetId[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntry[];
  training_info?: TrainingInfoProto[];
  functions?: FunctionProto[];
}

/** TensorProto.DataLocation. */
export const DATA_LOCATION_EXTERNAL = 1;

const codec = SchemaCodec.fromProtoText(ONNX_PROTO_SCHEMA);
const modelType = codec.type('onnx.ModelProto');
const tensorType = codec.type('onnx.TensorProto');

export function decodeModelProto(bytes: Uint8Array): ModelProto {
  return codec.decode(modelType, bytes) as ModelProto;
}

export function encodeModelProto(model: ModelProto): Uint8Array {
  return codec.encode(modelType, model);
}

export function encodedModelSize(model: ModelProto): number {
  return codec.encodedSize(modelType, model);
}

export function encodeTensorProto(tensor: TensorProto): Uint8Array {
  return codec.encode(tensorType, tensor);
}

export function decodeTensorProto(bytes: Uint8Array): TensorProto {
  return codec.decode(tensorType, bytes) as TensorProto;
}
