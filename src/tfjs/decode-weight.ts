import { FormatError } from '../errors.js';
import { halvesToFloat32 } from '../numeric/float16.js';
import type { TfjsWeightSpec } from './model-json.js';
import { checkWeightBytes, storedDtypeOf } from './weight-layout.js';
import { elementCount, STRING_LENGTH_PREFIX_BYTES, TFJS_DTYPES } from './weight-dtypes.js';
import { affineValue, TFJS_QUANTIZATIONS } from './weight-quantization.js';

/**
 * A weight's values as tfjs would hold them after loading: quantized weights dequantized to their spec
 * dtype, bool as 0/1 bytes, complex64 as interleaved real/imaginary float32, strings as one byte array
 * per element. Raw (unquantized) float16 weights, which tfjs-converter can write but tfjs cannot load,
 * decode to float32.
 */
export type TfjsWeightValues = Float32Array | Int32Array | Uint8Array | Uint16Array | Uint8Array[];

export function decodeTfjsWeight(spec: TfjsWeightSpec, bytes: Uint8Array): TfjsWeightValues {
  checkWeightBytes(spec, bytes);
  if (spec.dtype === 'string') return splitStrings(spec, bytes);
  const stored = storedValues(spec, bytes);
  const quantization = spec.quantization;
  if (quantization !== undefined) {
    const scheme = TFJS_QUANTIZATIONS[quantization.dtype];
    if (spec.dtype === 'float32') return scheme.toFloat32(stored, quantization);
    if (spec.dtype === 'int32' && scheme.affine) return Int32Array.from(stored, (code) => Math.round(affineValue(code, quantization)));
    throw new FormatError(`weight "${spec.name}": ${quantization.dtype} quantization is not defined for ${spec.dtype} weights`);
  }
  if (spec.dtype === 'float16') return halvesToFloat32(stored);
  return stored;
}

/** The stored elements as their typed array, copied so that multi-byte views are aligned. */
function storedValues(spec: TfjsWeightSpec, bytes: Uint8Array): Float32Array | Int32Array | Uint16Array | Uint8Array {
  const { ArrayType } = TFJS_DTYPES[storedDtypeOf(spec)];
  return new ArrayType(bytes.slice().buffer, 0, bytes.length / ArrayType.BYTES_PER_ELEMENT);
}

function splitStrings(spec: TfjsWeightSpec, bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const elements: Uint8Array[] = [];
  let offset = 0;
  for (let element = 0; element < elementCount(spec.shape); element++) {
    const length = view.getUint32(offset, true);
    offset += STRING_LENGTH_PREFIX_BYTES;
    elements.push(bytes.slice(offset, offset + length));
    offset += length;
  }
  return elements;
}
