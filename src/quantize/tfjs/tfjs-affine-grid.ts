import type { BlockParameters, QuantizationGrid } from '../algorithms/quantization-grid.js';
import { roundHalfToEven } from '../../numeric/round-half-to-even.js';

/**
 * tfjs-converter's uint8/uint16 weight quantization (quantization.py `quantize_weights`) as a grid, applied to
 * a whole tensor as one block:
 * - scale = (max - min) / maxCode;
 * - when min <= 0 <= max the range is nudged so that 0 is a code (zero padding and ReLU zeros stay exact):
 *   zeroPoint = round(-min / scale), min' = -zeroPoint * scale, max' = maxCode * scale + min';
 * - code = round((clip(w, min', max') - min') / scale);
 * - a constant tensor gets scale 1, min = its value and every code 0.
 * tfjs decodes `code * scale + min` (io_utils decodeWeight), so `min` (not the zero point) is what the
 * manifest stores. Rounding is NumPy's: half to even. The arithmetic is double precision, as NumPy 2 does it;
 * NumPy 1's value-based casting did the clip/subtract/divide in float32, which can move a weight lying within
 * float32 rounding of a half step to the neighbouring code.
 */
export interface TfjsAffineParameters extends BlockParameters {
  /** The value of code 0 after nudging: the manifest's `min`. */
  min: number;
}

export function tfjsAffineGrid(maxCode: number): QuantizationGrid {
  return {
    minCode: 0,
    maxCode,
    parameters: (values) => tfjsAffineParameters(values, maxCode),
    encode(value, parameters) {
      const { scale } = parameters;
      const min = minOf(parameters);
      const clipped = Math.min(Math.max(value, min), maxCode * scale + min);
      return Math.min(maxCode, Math.max(0, roundHalfToEven((clipped - min) / scale)));
    },
    decode: (code, parameters) => code * parameters.scale + minOf(parameters),
  };
}

export function tfjsAffineParameters(values: ArrayLike<number>, maxCode: number): TfjsAffineParameters {
  let low = Infinity;
  let high = -Infinity;
  for (let index = 0; index < values.length; index++) {
    const value = values[index]!;
    if (value < low) low = value;
    if (value > high) high = value;
  }
  if (low === high) return { scale: 1, zeroPoint: -low, min: low };
  const scale = (high - low) / maxCode;
  if (low <= 0 && 0 <= high) {
    const zeroPoint = roundHalfToEven(-low / scale);
    return { scale, zeroPoint, min: -zeroPoint * scale };
  }
  return { scale, zeroPoint: -low / scale, min: low };
}

/** Parameters from another source (an algorithm that moved the zero point) carry no `min`: derive it. */
function minOf(parameters: BlockParameters): number {
  return 'min' in parameters && typeof parameters.min === 'number' ? parameters.min : -parameters.zeroPoint * parameters.scale;
}

