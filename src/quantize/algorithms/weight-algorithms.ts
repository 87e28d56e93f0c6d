import { UsageError } from '../../errors.js';
import type { BlockLayout, QuantizationGrid, QuantizedWeight, WeightCalibration } from './quantization-grid.js';
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
};

export function weightAlgorithm(name: string): WeightAlgorithm {
  const algorithm = WEIGHT_ALGORITHMS[name];
  if (!algorithm) throw new UsageError(`unknown --algo '${name}' (available: ${Object.keys(WEIGHT_ALGORITHMS).join(', ')})`);
  return algorithm;
}
