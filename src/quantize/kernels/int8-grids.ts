import { ONNX_TYPE } from '../../onnx/data-types.js';
import type { BlockParameters, QuantizationGrid } from '../algorithms/quantization-grid.js';
import { roundHalfToEven } from '../../numeric/round-half-to-even.js';

/**
 * The 8-bit affine grids, declared once. Scale and zero-point rules follow onnxruntime's quantization tool
 * (`compute_scale_zp` in quant_utils.py) so a weight quantized here gets the same codes ORT's tool would
 * give it: the range always includes 0 (so 0 is exact), scales are float32, a zero range gets scale 1, and
 * rounding is half to even (numpy.round, and ONNX QuantizeLinear).
 */

export interface Int8Grid extends QuantizationGrid {
  name: string;
  /** ONNX element type the codes (and zero points) are stored as. */
  dataType: number;
  /** True when the zero point is the same fixed value for every block, whatever the values. */
  fixedZeroPoint: boolean;
  /** Scale and zero point for values spanning [min, max]. */
  fromRange(min: number, max: number): BlockParameters;
  /** In-range codes as the bytes of `dataType`. */
  pack(codes: ArrayLike<number>): Uint8Array;
}


/** Below float32's smallest normal a scale is useless (ORT: numpy.finfo(float32).tiny): use 1 instead. */
const FLOAT32_TINY = 1.1754943508222875e-38;

interface GridRule {
  name: string;
  dataType: number;
  minCode: number;
  maxCode: number;
  fixedZeroPoint: boolean;
  /** Scale and zero point for [min, max], where min <= 0 <= max already. */
  rule(min: number, max: number, minCode: number, maxCode: number): BlockParameters;
}

function affineGrid(spec: GridRule): Int8Grid {
  const { minCode, maxCode } = spec;
  const clamp = (code: number) => Math.min(maxCode, Math.max(minCode, code));
  const fromRange = (min: number, max: number): BlockParameters => {
    const parameters = spec.rule(Math.min(min, 0), Math.max(max, 0), minCode, maxCode);
    return parameters.scale < FLOAT32_TINY ? { scale: 1, zeroPoint: spec.fixedZeroPoint ? parameters.zeroPoint : 0 } : parameters;
  };
  return {
    name: spec.name,
    dataType: spec.dataType,
    fixedZeroPoint: spec.fixedZeroPoint,
    minCode,
    maxCode,
    fromRange,
    parameters(values) {
      let min = Infinity;
      let max = -Infinity;
      for (let index = 0; index < values.length; index++) {
        const value = values[index]!;
        if (value < min) min = value;
        if (value > max) max = value;
      }
      return values.length ? fromRange(min, max) : fromRange(0, 0);
    },
    // x / scale in float32, as QuantizeLinear computes it.
    encode: (value, { scale, zeroPoint }) => clamp(roundHalfToEven(Math.fround(value / scale)) + zeroPoint),
    encodeRows(weights, rowStart, rowEnd, columns, parameters, codes) {
      const scales = Float64Array.from(parameters, (chosen) => chosen.scale);
      const zeroPoints = Float64Array.from(parameters, (chosen) => chosen.zeroPoint);
      for (let row = rowStart; row < rowEnd; row++) {
        const base = row * columns;
        for (let column = 0; column < columns; column++) {
          const code = roundHalfToEven(Math.fround(weights[base + column]! / scales[column]!)) + zeroPoints[column]!;
          codes[base + column] = code < minCode ? minCode : code > maxCode ? maxCode : code;
        }
      }
    },
    decode: (code, { scale, zeroPoint }) => (code - zeroPoint) * scale,
    pack(codes) {
      return spec.dataType === ONNX_TYPE.INT8 ? new Uint8Array(Int8Array.from(codes).buffer) : Uint8Array.from(codes);
    },
  };
}

/** (max - min) / (maxCode - minCode), zero point where 0 lands: ORT's asymmetric rule. */
function asymmetric(min: number, max: number, minCode: number, maxCode: number): BlockParameters {
  const scale = Math.fround((max - min) / (maxCode - minCode));
  if (scale === 0) return { scale, zeroPoint: 0 };
  return { scale, zeroPoint: Math.min(maxCode, Math.max(minCode, roundHalfToEven(minCode - Math.fround(min / scale)))) };
}

export const INT8_GRIDS = {
  /** int8 weights, ORT's symmetric default: codes [-127, 127] (so -x quantizes to -code), zero point 0, scale absmax/127. */
  int8Symmetric: affineGrid({
    name: 'int8 symmetric',
    dataType: ONNX_TYPE.INT8!,
    minCode: -127,
    maxCode: 127,
    fixedZeroPoint: true,
    rule: (min, max) => ({ scale: Math.fround(Math.max(-min, max) / 127), zeroPoint: 0 }),
  }),
  /** uint8 asymmetric weights: range [min(min,0), max(max,0)] over 0..255, zero point round(-min/scale). */
  uint8Asymmetric: affineGrid({ name: 'uint8 asymmetric', dataType: ONNX_TYPE.UINT8!, minCode: 0, maxCode: 255, fixedZeroPoint: false, rule: asymmetric }),
  /** int8 asymmetric activations (ORT's static default QInt8, ActivationSymmetric=False): -128..127. */
  int8Asymmetric: affineGrid({ name: 'int8 asymmetric', dataType: ONNX_TYPE.INT8!, minCode: -128, maxCode: 127, fixedZeroPoint: false, rule: asymmetric }),
  /**
   * uint8 codes around a shared zero point 128 with a scale per output channel, for ConvInteger: ORT's CPU
   * ConvInteger takes only a per-tensor w_zero_point ("Non per-tensor quantization is not supported now",
   * conv_integer.cc) and only uint8 weights, so per-channel precision has to come from the scales alone.
   * The scale fits the channel's range on both sides of 0: max(max/127, -min/128).
   */
  uint8Offset128: affineGrid({
    name: 'uint8 zero point 128',
    dataType: ONNX_TYPE.UINT8!,
    minCode: 0,
    maxCode: 255,
    fixedZeroPoint: true,
    rule: (min, max) => ({ scale: Math.fround(Math.max(max / 127, -min / 128)), zeroPoint: 128 }),
  }),
} as const satisfies Record<string, Int8Grid>;

export type Int8GridName = keyof typeof INT8_GRIDS;

/** The weight grid an int8 scheme uses for `--symmetric` / `--asymmetric` (symmetric unless asked otherwise). */
export function int8WeightGrid(symmetric: boolean | undefined): Int8Grid {
  return symmetric ?? true ? INT8_GRIDS.int8Symmetric : INT8_GRIDS.uint8Asymmetric;
}
