import { UsageError } from '../../errors.js';
import type { BlockLayout, QuantizationGrid, QuantizedWeight, WeightCalibration } from './quantization-grid.js';
import { gptq } from './gptq.js';
import { roundToNearest } from './round-to-nearest.js';

/**
 * Per-weight quantization algorithms (--algo). Each turns float weights into codes on a scheme's grid;
 * calibration-aware ones (GPTQ: Hessian error feedback, AWQ: activation-aware scaling, HQQ: zero-point
 * optimisation) are further rows taking `calibration`.
 */
export interface WeightAlgorithm {
  name: string;
  summary: string;
  needsCalibration: boolean;
  quantize(weights: Float32Array, layout: BlockLayout, grid: QuantizationGrid, calibration?: WeightCalibration): QuantizedWeight;
}

export const WEIGHT_ALGORITHMS: Record<string, WeightAlgorithm> = {
  rtn: {
    name: 'rtn',
    summary: 'round to nearest: per-block scale and zero point from the block range, no data needed',
    needsCalibration: false,
    quantize: (weights, layout, grid) => roundToNearest(weights, layout, grid),
  },
  gptq: {
    name: 'gptq',
    summary: 'GPTQ: rounding error fed forward onto later input features by the inverse input Hessian (needs --calibration)',
    needsCalibration: true,
    // A weight without a Hessian (no calibrated input, too many features) falls back to round to nearest.
    quantize: (weights, layout, grid, calibration) =>
      calibration?.hessian ? gptq(weights, layout, grid, calibration.hessian) : roundToNearest(weights, layout, grid),
  },
};

/** The algorithm with one weight's calibration bound, for schemes whose kernels call quantize() later. */
export function withCalibration(algorithm: WeightAlgorithm, calibration: WeightCalibration | undefined): WeightAlgorithm {
  return calibration ? { ...algorithm, quantize: (weights, layout, grid) => algorithm.quantize(weights, layout, grid, calibration) } : algorithm;
}

export function weightAlgorithm(name: string): WeightAlgorithm {
  const algorithm = WEIGHT_ALGORITHMS[name];
  if (!algorithm) throw new UsageError(`unknown --algo '${name}' (available: ${Object.keys(WEIGHT_ALGORITHMS).join(', ')})`);
  return algorithm;
}
