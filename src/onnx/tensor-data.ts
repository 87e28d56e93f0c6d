import { FormatError } from '../errors.js';
import { halvesToFloat32 } from '../numeric/float16.js';
import { byteLengthOf, onnxDataType, onnxDataTypeName, OnnxDataType } from './data-types.js';
import { isExternal, readExternalBytes } from './external-data.js';
import type { TensorProto } from './onnx-proto.js';

/** Reading a TensorProto's values whichever way it stores them: raw_data, the typed fields, or external data. */

export function tensorDims(tensor: TensorProto): number[] {
  return (tensor.dims ?? []).map(Number);
}

export function tensorElementCount(tensor: TensorProto): number {
  return tensorDims(tensor).reduce((product, dim) => product * dim, 1);
}

function knownType(tensor: TensorProto): OnnxDataType {
  const type = onnxDataType(tensor.data_type ?? 0);
  if (!type) throw new FormatError(`tensor '${tensor.name ?? ''}': unknown data type ${tensor.data_type}`);
  return type;
}

/** Bytes the tensor's values take in raw little-endian form, or undefined for strings. */
export function tensorByteLength(tensor: TensorProto): number | undefined {
  const type = onnxDataType(tensor.data_type ?? 0);
  if (!type || type.bits === 0) return undefined;
  return byteLengthOf(type.code, tensorElementCount(tensor));
}

/** Values held in the legacy typed fields (float_data, int32_data, ...), packed into raw_data layout. */
export function typedFieldBytes(tensor: TensorProto): Uint8Array {
  const type = knownType(tensor);
  const count = tensorElementCount(tensor);
  const values = (tensor[type.typedField] as Array<number | bigint> | undefined) ?? [];
  const bytes = new Uint8Array(byteLengthOf(type.code, count));
  if (type.name === 'complex64' || type.name === 'complex128') {
    const array = type.name === 'complex64' ? new Float32Array(bytes.buffer) : new Float64Array(bytes.buffer);
    array.set(values as number[]);
    return bytes;
  }
  if (!type.array) {
    // Sub-byte types: int32_data holds the packed bytes, one per int32 (onnx.proto).
    (values as number[]).forEach((value, index) => (bytes[index] = value & 0xff));
    return bytes;
  }
  const array = new type.array(bytes.buffer);
  if (array instanceof BigInt64Array || array instanceof BigUint64Array) {
    values.forEach((value, index) => (array[index] = BigInt(value)));
  } else {
    // float16/bfloat16 keep their bit pattern in int32_data; the typed array truncates to the slot width.
    (array as Float32Array).set(values.map(Number));
  }
  return bytes;
}

/**
 * The tensor's bytes in raw_data layout. External data is read from its file (that range only); inline
 * raw_data is returned as a view, not a copy.
 */
export async function readTensorBytes(tensor: TensorProto, modelDirectory: string): Promise<Uint8Array> {
  if (isExternal(tensor)) {
    const length = tensorByteLength(tensor);
    if (length === undefined) throw new FormatError(`tensor '${tensor.name ?? ''}': string tensors cannot be external`);
    return readExternalBytes(modelDirectory, tensor, length);
  }
  if (tensor.raw_data) return tensor.raw_data;
  return typedFieldBytes(tensor);
}

/** Decoders to float32 for the element types a float model's weights use, keyed by type name. */
const TO_FLOAT32: Record<string, (bytes: Uint8Array, count: number) => Float32Array> = {
  // float32 bytes are viewed, not copied (the caller treats the result as read-only).
  float32: (bytes, count) => alignedView(bytes, Float32Array, count),
  float64: (bytes, count) => Float32Array.from(alignedView(bytes, Float64Array, count)),
  float16: (bytes, count) => halvesToFloat32(alignedView(bytes, Uint16Array, count)),
  bfloat16: (bytes, count) => {
    const halves = alignedView(bytes, Uint16Array, count);
    const words = Uint32Array.from(halves, (half) => half << 16);
    return new Float32Array(words.buffer);
  },
  int8: (bytes, count) => Float32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, count)),
  uint8: (bytes, count) => Float32Array.from(bytes.subarray(0, count)),
  int32: (bytes, count) => Float32Array.from(alignedView(bytes, Int32Array, count)),
};

/**
 * A typed-array view of `bytes`: typed arrays need an offset that is a multiple of their element size, so
 * misaligned bytes (inside a protobuf buffer) are copied first; aligned ones (external data reads get a
 * buffer of their own) are viewed as they are.
 */
function alignedView<T extends Float32Array | Float64Array | Uint16Array | Int32Array>(
  bytes: Uint8Array,
  type: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number },
  count: number,
): T {
  const aligned = bytes.byteOffset % type.BYTES_PER_ELEMENT === 0 ? bytes : new Uint8Array(bytes);
  return new type(aligned.buffer, aligned.byteOffset, count);
}

/** Values in raw_data layout (`bytes`) of `tensor`'s type, as float32. */
export function decodeTensorAsFloat32(tensor: TensorProto, bytes: Uint8Array): Float32Array {
  const type = knownType(tensor);
  const decode = TO_FLOAT32[type.name];
  if (!decode) throw new FormatError(`tensor '${tensor.name ?? ''}': cannot read ${onnxDataTypeName(type.code)} as float32`);
  return decode(bytes, tensorElementCount(tensor));
}
