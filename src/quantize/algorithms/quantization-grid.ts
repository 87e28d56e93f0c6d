import type { InputHessian } from '../../calibration/input-hessian.js';

/**
 * A quantization grid: how one block of weights gets its scale and zero point, and how a value maps to an
 * integer code and back. Every scheme (int8, int4, NF4/FP4 codebooks, tfjs affine) is one grid; the
 * algorithms (RTN today; GPTQ, AWQ, HQQ later) choose codes on any grid, so adding either is one entry.
 */

export interface BlockParameters {
  scale: number;
  zeroPoint: number;
}

export interface QuantizationGrid {
  /** Inclusive range of codes. */
  minCode: number;
  maxCode: number;
  /** Scale and zero point for one block, from its values. */
  parameters(values: Float32Array): BlockParameters;
  /**
   * The same parameters from the block's minimum and maximum alone, for grids whose rule needs nothing
   * else (every affine and absmax grid). Lets RTN scan weights row by row, in memory order, instead of
   * gathering each block's column: several times faster on large matrices.
   */
  fromRange?(min: number, max: number): BlockParameters;
  /**
   * encode() over rows [rowStart, rowEnd) of a row-major matrix, `parameters` holding each column's block
   * parameters: the same codes, in one tight loop (hot for models of gigabytes).
   */
  encodeRows?(weights: Float32Array, rowStart: number, rowEnd: number, columns: number, parameters: BlockParameters[], codes: Int16Array): void;
  /** The code for `value` (round to nearest, clamped to the grid). */
  encode(value: number, parameters: BlockParameters): number;
  /** The value a runtime reconstructs from `code`. */
  decode(code: number, parameters: BlockParameters): number;
}

/**
 * Weights laid out as MatMul's B operand: `rows` (K, input features) x `columns` (N, outputs), row-major.
 * Blocks run down each column: rows [b*blockSize, (b+1)*blockSize) of column n share one scale/zero point.
 * blockSize = rows gives one block per column (per-channel); rows*columns with columns = 1 gives per-tensor.
 */
export interface BlockLayout {
  rows: number;
  columns: number;
  blockSize: number;
}

export function blockCount(layout: BlockLayout): number {
  return Math.ceil(layout.rows / layout.blockSize);
}

/** Codes [rows x columns] row-major; scales and zero points [blocks x columns] row-major. */
export interface QuantizedWeight {
  codes: Int16Array;
  scales: Float32Array;
  zeroPoints: Int16Array;
}

/** What calibration data says about a weight's inputs, for the data-aware algorithms (GPTQ). */
export interface WeightCalibration {
  /** E[x x^T] of the input features (rows), one matrix per group of columns. */
  hessian?: InputHessian;
}
