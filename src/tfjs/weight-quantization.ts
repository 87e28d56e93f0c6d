import { halvesToFloat32 } from '../numeric/float16.js';

/**
 * The quantization schemes a TF.js weights manifest can declare (`spec.quantization.dtype`), one entry
 * each. Semantics follow tfjs-core io_utils `decodeWeight`: the stored codes are `shape` elements of
 * `storedDtype`; affine codes decode to `code * scale + min` (rounded for int32 weights), float16 codes to
 * the float32 value of the half. tfjs-converter also writes `original_dtype` inside `quantization`; it
 * repeats the spec's own dtype and tfjs ignores it, so it is only carried through.
 */
export interface TfjsQuantizationScheme {
  storedDtype: 'uint8' | 'uint16' | 'float16';
  bits: number;
  /** Whether `min` and `scale` must be present in the spec's quantization. */
  affine: boolean;
  /** Weight dtypes tfjs accepts this scheme for. */
  weightDtypes: ReadonlyArray<'float32' | 'int32'>;
  /** Codes of a float32 weight -> its values. */
  toFloat32(codes: ArrayLike<number>, quantization: AffineParameters): Float32Array;
}

export interface AffineParameters {
  min?: number;
  scale?: number;
}

/** Computed in double precision, as tfjs does, before any rounding to float32 or int32. */
export function affineValue(code: number, quantization: AffineParameters): number {
  return code * quantization.scale! + quantization.min!;
}

function affineToFloat32(codes: ArrayLike<number>, quantization: AffineParameters): Float32Array {
  return Float32Array.from(codes, (code) => affineValue(code, quantization));
}

export const TFJS_QUANTIZATIONS = {
  uint8: { storedDtype: 'uint8', bits: 8, affine: true, weightDtypes: ['float32', 'int32'], toFloat32: affineToFloat32 },
  uint16: { storedDtype: 'uint16', bits: 16, affine: true, weightDtypes: ['float32', 'int32'], toFloat32: affineToFloat32 },
  float16: { storedDtype: 'float16', bits: 16, affine: false, weightDtypes: ['float32'], toFloat32: halvesToFloat32 },
} as const satisfies Record<string, TfjsQuantizationScheme>;

export type TfjsQuantizationName = keyof typeof TFJS_QUANTIZATIONS;

export function isTfjsQuantizationName(name: unknown): name is TfjsQuantizationName {
  return typeof name === 'string' && Object.hasOwn(TFJS_QUANTIZATIONS, name);
}
