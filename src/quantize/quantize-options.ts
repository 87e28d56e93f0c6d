import type { CalibrationSet } from '../calibration/calibration-set.js';
import { WeightSelection } from './weight-selection.js';

export type Int4Format = 'ort' | 'qdq';
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

/** Everything `quantize` was asked for, parsed and validated; schemes read only what concerns them. */
export interface QuantizeOptions {
  scheme: string;
  /** Per-weight algorithm (--algo), a key of WEIGHT_ALGORITHMS. */
  algo: string;
  /** int8: one scale per output channel (default) instead of one per tensor. */
  perChannel: boolean;
  /** Weights symmetric (zero point fixed); undefined = the scheme's own default. */
  symmetric?: boolean;
  /** int4 (default 32) and nf4/fp4 (default 64) block size; undefined = the scheme's default. */
  blockSize?: number;
  /** int4: com.microsoft MatMulNBits ('ort', default) or DequantizeLinear-21 with block_size ('qdq'). */
  int4Format: Int4Format;
  /** MatMulNBits accuracy_level (0-4); undefined leaves the attribute out. */
  accuracyLevel?: number;
  /** nf4/fp4: store the per-block absmax as 8-bit in blocks of 256 (QLoRA double quantization). */
  doubleQuant: boolean;
  /** fp16/bf16: keep graph inputs and outputs float32, with Casts at the boundary. */
  keepIoTypes: boolean;
  /** fp16/bf16: op types kept in float32 besides the built-in block list. */
  opBlockList: string[];
  calibration?: CalibrationSet;
  calibrationMethod: CalibrationMethod;
  /** Percentile of |activation| kept by the 'percentile' method (e.g. 99.99). */
  percentile: number;
  /** LLM.int8()-style split: input features whose calibrated |activation| exceeds this stay float. */
  outlierThreshold?: number;
  /** int8: with calibration data, correct each layer's bias for its weight's rounding (default on). */
  biasCorrection: boolean;
  selection: WeightSelection;
}

/** The options the command uses when only --scheme is given (for library callers, tests and benchmarks). */
export function defaultQuantizeOptions(scheme: string, overrides: Partial<QuantizeOptions> = {}): QuantizeOptions {
  return {
    scheme,
    algo: 'rtn',
    perChannel: true,
    int4Format: 'ort',
    doubleQuant: false,
    keepIoTypes: false,
    opBlockList: [],
    calibrationMethod: 'minmax',
    percentile: 99.99,
    biasCorrection: true,
    selection: WeightSelection.all(),
    ...overrides,
  };
}
