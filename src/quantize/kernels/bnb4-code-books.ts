import type { BlockParameters, QuantizationGrid } from '../algorithms/quantization-grid.js';

/**
 * The two bitsandbytes 4-bit code books that com.microsoft MatMulBnb4 decodes, declared once. `values` is
 * the dequantization table indexed by code, verbatim from onnxruntime
 * contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h (nf4_qaunt_map / fp4_qaunt_map); NF4 is
 * bitsandbytes' `get_4bit_type('nf4')` and FP4 its e2m1 values {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12.
 *
 * Encoding must pick the code ORT's own quantizer picks (QuantizeOneNF4 / QuantizeOneFP4), so it is written
 * as that header's decision tree flattened: `boundaries` are its float32 pivots (midpoints of neighbouring
 * values) in ascending order, a normalized value takes the level above every pivot it strictly exceeds,
 * and `levelCodes` names the code of each level. A value equal to a pivot goes to the level below, as there.
 */

export type Bnb4CodeBookName = 'nf4' | 'fp4';

export interface Bnb4CodeBook {
  name: Bnb4CodeBookName;
  /** MatMulBnb4's quant_type attribute (ContribOperators.md: 0 = FP4, 1 = NF4). */
  quantType: number;
  /** Dequantized value of each code 0..15, as a multiple of the block's absmax. */
  values: readonly number[];
  /** FP4 is sign-magnitude: code bit 3 is the sign and the levels below are magnitudes. NF4 has no sign bit. */
  signBit?: number;
  /** Decision pivots between neighbouring levels, ascending. */
  boundaries: readonly number[];
  /** Code of each level, from the lowest (below every pivot) up. */
  levelCodes: readonly number[];
}

const NF4_VALUES = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];

const FP4_MAGNITUDES = [0.0, 5.208333333e-3, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25];

export const BNB4_CODE_BOOKS: Record<Bnb4CodeBookName, Bnb4CodeBook> = {
  nf4: {
    name: 'nf4',
    quantType: 1,
    values: NF4_VALUES,
    boundaries: [
      -0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544, -0.23460740596055984,
      -0.13791173323988914, -0.045525018125772476, 0.03979014977812767, 0.1202552504837513, 0.2035212516784668,
      0.2920137718319893, 0.3893125355243683, 0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
    ].map(Math.fround),
    levelCodes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  },
  fp4: {
    name: 'fp4',
    quantType: 0,
    values: [...FP4_MAGNITUDES, ...FP4_MAGNITUDES.map((value) => -value)],
    signBit: 0b1000,
    boundaries: [0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333].map(Math.fround),
    // Magnitudes in ascending order: 0, 0.0052, 1/6, 1/4, 1/3, 1/2, 2/3, 1.
    levelCodes: [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011],
  },
};

/** The code for `normalized` = weight / absmax (in [-1, 1]), exactly as ORT's quantizer chooses it. */
export function encodeBnb4(book: Bnb4CodeBook, normalized: number): number {
  const negative = book.signBit !== undefined && normalized < 0;
  const magnitude = negative ? -normalized : normalized;
  let level = 0;
  while (level < book.boundaries.length && magnitude > book.boundaries[level]!) level++;
  return book.levelCodes[level]! | (negative ? book.signBit! : 0);
}

/**
 * A code book as a quantization grid, so any weight algorithm (RTN today) can choose the codes: one block's
 * scale is its absmax in float32 (no zero point), a value is normalized as ORT does it (multiplied by the
 * float32 reciprocal of the absmax, an all-zero block normalizing to 0) and decodes to table[code] * absmax.
 */
export function bnb4Grid(book: Bnb4CodeBook): QuantizationGrid {
  return {
    minCode: 0,
    maxCode: 15,
    parameters(values: Float32Array): BlockParameters {
      let absmax = 0;
      for (const value of values) absmax = Math.max(absmax, Math.abs(value));
      return { scale: Math.fround(absmax), zeroPoint: 0 };
    },
    encode(value, { scale }) {
      const reciprocal = scale ? Math.fround(1 / scale) : 0;
      return encodeBnb4(book, Math.fround(value * reciprocal));
    },
    decode(code, { scale }) {
      return Math.fround(Math.fround(book.values[code]!) * scale);
    },
  };
}
