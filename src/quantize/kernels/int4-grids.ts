import type { BlockParameters, QuantizationGrid } from '../algorithms/quantization-grid.js';

/**
 * The 4-bit grids the int4 scheme writes, each matching what its runtime op decodes:
 *
 * - `uint4-asymmetric`: codes 0..15 with a zero point per block; the range is widened to include 0 so
 *   that 0 is exact, scale = (max - min) / 15, zero point = round(-min / scale). MatMulNBits and
 *   GatherBlockQuantized with zero_points, DequantizeLinear with uint4 x and zero point.
 * - `uint4-symmetric`: codes 0..15 around the implicit zero point 8 that MatMulNBits and uint8
 *   GatherBlockQuantized assume when zero_points is absent.
 * - `int4-symmetric`: the same values as signed codes -8..7 (code - 8), for DequantizeLinear with an int4
 *   x and no zero point.
 *
 * The scale and code rules are onnxruntime's own (mlas q4_dq.cpp `range2scalezp` / `range2scale`), so a
 * model quantized here decodes to what ORT's MatMulNBitsQuantizer would give. The symmetric scale is the
 * signed value of largest magnitude divided by -8: that value lands exactly on code 0 (-8 signed) and
 * the full 16-code range is used; the scale is negative when that value is positive.
 */

export type Int4GridName = 'uint4-asymmetric' | 'uint4-symmetric' | 'int4-symmetric';

const UINT4_MAX_CODE = 15;
/** MatMulNBits' implicit zero point (2^(bits-1)), and the offset between the signed and unsigned codes. */
export const UINT4_IMPLICIT_ZERO_POINT = 8;

function clampCode(code: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, code));
}

/**
 * onnxruntime multiplies by a float32 reciprocal of the scale (0 for a zero scale, so an all-zero block
 * encodes as its zero point) and rounds half away from zero; the sum here is never a negative tie that
 * survives the clamp at 0, so Math.round gives the same code.
 */
function unsignedCode(value: number, scale: number, zeroPoint: number): number {
  const reciprocal = scale === 0 ? 0 : Math.fround(1 / scale);
  return clampCode(Math.round(Math.fround(value * reciprocal) + zeroPoint), 0, UINT4_MAX_CODE);
}

function asymmetricParameters(values: Float32Array): BlockParameters {
  let min = 0;
  let max = 0;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return asymmetricFromRange(min, max);
}

function asymmetricFromRange(blockMin: number, blockMax: number): BlockParameters {
  const min = Math.min(blockMin, 0);
  const max = Math.max(blockMax, 0);
  // float32 arithmetic, as the scale is stored (and computed by ORT) in float32
  const scale = Math.fround(Math.fround(max - min) / UINT4_MAX_CODE);
  const zeroPoint = scale === 0 ? 0 : clampCode(Math.round(Math.fround(-min / scale)), 0, UINT4_MAX_CODE);
  return { scale, zeroPoint };
}

/** The signed value of largest magnitude over -8; on a tie between +m and -m, -m wins (ORT compares strictly). */
function symmetricScale(values: Float32Array): number {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  if (values.length === 0) return 0;
  return symmetricScaleFromRange(min, max);
}

function symmetricScaleFromRange(min: number, max: number): number {
  const extreme = Math.abs(max) > Math.abs(min) ? max : min;
  return Math.fround(extreme / -UINT4_IMPLICIT_ZERO_POINT);
}

/**
 * unsignedCode over rows of a matrix, with each column's float32 reciprocal computed once; `offset` turns
 * the unsigned codes into signed ones (the int4 grid's parameters carry zero point 0, its codes sit 8 lower).
 */
function unsignedCodeRows(offset: number) {
  return (weights: Float32Array, rowStart: number, rowEnd: number, columns: number, parameters: BlockParameters[], codes: Int16Array) => {
    const reciprocals = new Float32Array(columns);
    const zeroPoints = new Float64Array(columns);
    for (let column = 0; column < columns; column++) {
      const { scale, zeroPoint } = parameters[column]!;
      reciprocals[column] = scale === 0 ? 0 : 1 / scale;
      zeroPoints[column] = zeroPoint + offset;
    }
    for (let row = rowStart; row < rowEnd; row++) {
      const base = row * columns;
      for (let column = 0; column < columns; column++) {
        // Half away from zero like Math.round: truncation of x + 0.5 is floor for x >= 0, and anything
        // below 0 clamps to code 0 either way.
        const code = (Math.fround(weights[base + column]! * reciprocals[column]!) + zeroPoints[column]! + 0.5) | 0;
        codes[base + column] = (code < 0 ? 0 : code > UINT4_MAX_CODE ? UINT4_MAX_CODE : code) - offset;
      }
    }
  };
}

export const INT4_GRIDS: Record<Int4GridName, QuantizationGrid> = {
  'uint4-asymmetric': {
    minCode: 0,
    maxCode: UINT4_MAX_CODE,
    parameters: asymmetricParameters,
    fromRange: asymmetricFromRange,
    encode: (value, { scale, zeroPoint }) => unsignedCode(value, scale, zeroPoint),
    encodeRows: unsignedCodeRows(0),
    decode: (code, { scale, zeroPoint }) => (code - zeroPoint) * scale,
  },
  'uint4-symmetric': {
    minCode: 0,
    maxCode: UINT4_MAX_CODE,
    parameters: (values) => ({ scale: symmetricScale(values), zeroPoint: UINT4_IMPLICIT_ZERO_POINT }),
    fromRange: (min, max) => ({ scale: symmetricScaleFromRange(min, max), zeroPoint: UINT4_IMPLICIT_ZERO_POINT }),
    encode: (value, { scale }) => unsignedCode(value, scale, UINT4_IMPLICIT_ZERO_POINT),
    encodeRows: unsignedCodeRows(0),
    decode: (code, { scale }) => (code - UINT4_IMPLICIT_ZERO_POINT) * scale,
  },
  'int4-symmetric': {
    minCode: -UINT4_IMPLICIT_ZERO_POINT,
    maxCode: UINT4_MAX_CODE - UINT4_IMPLICIT_ZERO_POINT,
    parameters: (values) => ({ scale: symmetricScale(values), zeroPoint: 0 }),
    fromRange: (min, max) => ({ scale: symmetricScaleFromRange(min, max), zeroPoint: 0 }),
    encode: (value, { scale }) => unsignedCode(value, scale, UINT4_IMPLICIT_ZERO_POINT) - UINT4_IMPLICIT_ZERO_POINT,
    encodeRows: unsignedCodeRows(UINT4_IMPLICIT_ZERO_POINT),
    decode: (code, { scale }) => code * scale,
  },
};
