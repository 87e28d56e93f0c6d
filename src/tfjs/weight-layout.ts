import { FormatError } from '../errors.js';
import type { TfjsWeightSpec } from './model-json.js';
import { elementCount, STRING_LENGTH_PREFIX_BYTES, TFJS_DTYPES, type TfjsDtype } from './weight-dtypes.js';
import { TFJS_QUANTIZATIONS } from './weight-quantization.js';

/** A weight of a loaded model: its spec as written and where its bytes lie in its group's stream. */
export interface TfjsWeight {
  spec: TfjsWeightSpec;
  manifestGroup: number;
  groupOffset: number;
  byteLength: number;
}

/** The element type of the bytes on disk: the quantization's when quantized, else the spec's dtype. */
export function storedDtypeOf(spec: TfjsWeightSpec): TfjsDtype {
  return spec.quantization ? TFJS_QUANTIZATIONS[spec.quantization.dtype].storedDtype : spec.dtype;
}

/** Bytes the weight occupies, known from the spec alone; null for strings (see stringByteLength). */
export function fixedByteLength(spec: TfjsWeightSpec): number | null {
  const bytesPerElement = TFJS_DTYPES[storedDtypeOf(spec)].bytesPerElement;
  return bytesPerElement === null ? null : elementCount(spec.shape) * bytesPerElement;
}

/**
 * Length of a string weight, found by walking its elements' length prefixes. `readAt(offset, length)`
 * reads bytes relative to the weight's start.
 */
export async function stringByteLength(
  spec: TfjsWeightSpec,
  readAt: (offset: number, length: number) => Promise<Uint8Array>,
): Promise<number> {
  let byteLength = 0;
  for (let element = 0; element < elementCount(spec.shape); element++) {
    const prefix = await readAt(byteLength, STRING_LENGTH_PREFIX_BYTES);
    byteLength += STRING_LENGTH_PREFIX_BYTES + new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0, true);
  }
  return byteLength;
}

/** Check that `bytes` is exactly one encoding of `spec` (a writer's guard against a rewrite pass's slip). */
export function checkWeightBytes(spec: TfjsWeightSpec, bytes: Uint8Array): void {
  const expected = fixedByteLength(spec) ?? stringBytesWithin(spec, bytes);
  if (bytes.length !== expected) {
    throw new FormatError(`weight "${spec.name}" (${spec.dtype} ${JSON.stringify(spec.shape)}${spec.quantization ? `, ${spec.quantization.dtype} quantized` : ''}) has ${bytes.length} bytes, its spec needs ${expected}`);
  }
}

function stringBytesWithin(spec: TfjsWeightSpec, bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let byteLength = 0;
  for (let element = 0; element < elementCount(spec.shape); element++) {
    if (byteLength + STRING_LENGTH_PREFIX_BYTES > bytes.length) {
      throw new FormatError(`string weight "${spec.name}": element ${element} starts past the ${bytes.length} bytes given`);
    }
    byteLength += STRING_LENGTH_PREFIX_BYTES + view.getUint32(byteLength, true);
  }
  return byteLength;
}
