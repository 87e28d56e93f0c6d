/**
 * ONNX tensor element types (TensorProto.DataType), declared once: name, bit width, the typed array that
 * holds one element per slot where one exists, and which legacy typed field stores it when raw_data is not
 * used (onnx.proto: float16/bfloat16/int8/int16/uint8/uint16/bool/float8/int4 go in int32_data).
 */

export type TypedArrayConstructor =
  | Float32ArrayConstructor | Float64ArrayConstructor | Int8ArrayConstructor | Uint8ArrayConstructor
  | Int16ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor
  | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

export type TypedDataField = 'float_data' | 'int32_data' | 'int64_data' | 'double_data' | 'uint64_data' | 'string_data';

export interface OnnxDataType {
  code: number;
  name: string;
  /** Bits per element: 4 for INT4/UINT4/FLOAT4E2M1, 2 for INT2/UINT2; elements are packed low nibble first. */
  bits: number;
  /** The typed array with one element per slot (absent for packed sub-byte types, strings and complex). */
  array?: TypedArrayConstructor;
  typedField: TypedDataField;
  isFloat: boolean;
}

const TYPES: OnnxDataType[] = [
  { code: 1, name: 'float32', bits: 32, array: Float32Array, typedField: 'float_data', isFloat: true },
  { code: 2, name: 'uint8', bits: 8, array: Uint8Array, typedField: 'int32_data', isFloat: false },
  { code: 3, name: 'int8', bits: 8, array: Int8Array, typedField: 'int32_data', isFloat: false },
  { code: 4, name: 'uint16', bits: 16, array: Uint16Array, typedField: 'int32_data', isFloat: false },
  { code: 5, name: 'int16', bits: 16, array: Int16Array, typedField: 'int32_data', isFloat: false },
  { code: 6, name: 'int32', bits: 32, array: Int32Array, typedField: 'int32_data', isFloat: false },
  { code: 7, name: 'int64', bits: 64, array: BigInt64Array, typedField: 'int64_data', isFloat: false },
  { code: 8, name: 'string', bits: 0, typedField: 'string_data', isFloat: false },
  { code: 9, name: 'bool', bits: 8, array: Uint8Array, typedField: 'int32_data', isFloat: false },
  { code: 10, name: 'float16', bits: 16, array: Uint16Array, typedField: 'int32_data', isFloat: true },
  { code: 11, name: 'float64', bits: 64, array: Float64Array, typedField: 'double_data', isFloat: true },
  { code: 12, name: 'uint32', bits: 32, array: Uint32Array, typedField: 'uint64_data', isFloat: false },
  { code: 13, name: 'uint64', bits: 64, array: BigUint64Array, typedField: 'uint64_data', isFloat: false },
  { code: 14, name: 'complex64', bits: 64, typedField: 'float_data', isFloat: true },
  { code: 15, name: 'complex128', bits: 128, typedField: 'double_data', isFloat: true },
  { code: 16, name: 'bfloat16', bits: 16, array: Uint16Array, typedField: 'int32_data', isFloat: true },
  { code: 17, name: 'float8e4m3fn', bits: 8, array: Uint8Array, typedField: 'int32_data', isFloat: true },
  { code: 18, name: 'float8e4m3fnuz', bits: 8, array: Uint8Array, typedField: 'int32_data', isFloat: true },
  { code: 19, name: 'float8e5m2', bits: 8, array: Uint8Array, typedField: 'int32_data', isFloat: true },
  { code: 20, name: 'float8e5m2fnuz', bits: 8, array: Uint8Array, typedField: 'int32_data', isFloat: true },
  { code: 21, name: 'uint4', bits: 4, typedField: 'int32_data', isFloat: false },
  { code: 22, name: 'int4', bits: 4, typedField: 'int32_data', isFloat: false },
  { code: 23, name: 'float4e2m1', bits: 4, typedField: 'int32_data', isFloat: true },
  { code: 24, name: 'float8e8m0', bits: 8, array: Uint8Array, typedField: 'int32_data', isFloat: true },
  { code: 25, name: 'uint2', bits: 2, typedField: 'int32_data', isFloat: false },
  { code: 26, name: 'int2', bits: 2, typedField: 'int32_data', isFloat: false },
];

const BY_CODE = new Map(TYPES.map((type) => [type.code, type]));
const BY_NAME = new Map(TYPES.map((type) => [type.name, type]));

export const ONNX_TYPE = Object.fromEntries(TYPES.map((type) => [type.name.toUpperCase(), type.code])) as Record<string, number>;

export function onnxDataType(code: number): OnnxDataType | undefined {
  return BY_CODE.get(code);
}

export function onnxDataTypeByName(name: string): OnnxDataType | undefined {
  return BY_NAME.get(name);
}

export function onnxDataTypeName(code: number | undefined): string {
  if (code === undefined || code === 0) return 'undefined';
  return BY_CODE.get(code)?.name ?? `type${code}`;
}

/** Bytes that `elementCount` elements occupy in raw_data (sub-byte types packed, rounded up). */
export function byteLengthOf(code: number, elementCount: number): number {
  const type = BY_CODE.get(code);
  if (!type || type.bits === 0) throw new Error(`data type ${onnxDataTypeName(code)} has no fixed element size`);
  return Math.ceil((elementCount * type.bits) / 8);
}
