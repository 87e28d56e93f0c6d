import type { InputHessian } from '../../calibration/input-hessian.js';
import type { BlockLayout, BlockParameters, QuantizationGrid, QuantizedWeight } from './quantization-grid.js';
import { blockCount } from './quantization-grid.js';

/**
 * GPTQ (Frantar et al. 2023, "Accurate Post-Training Quantization for Generative Pre-trained Transformers"):
 * quantize a layer's input features one at a time and move each one's rounding error onto the features not
 * yet quantized, weighted by the inverse Hessian of the layer's reconstruction error ||X (W - Q)||^2, where
 * H = E[x x^T] over calibration inputs. Features are visited in act order with static block parameters
 * (see quantizeColumns), so every scheme's grid and block size work unchanged.
 *
 * Layout is MatMul's B: rows are input features (K), columns outputs; a grouped Conv has one Hessian per
 * group of columns. Plain typed-array loops: the error feedback is K^2 * N multiply-adds and the inverse
 * K^3, fine for layers up to a few thousand features (GPTQ_MAX_FEATURES).
 */

/** Relative dampening added to H's diagonal (GPTQ's percdamp), so H is safely positive definite. */
export const GPTQ_DAMPENING = 0.01;
/** Beyond this many input features the K^3 inverse is too slow in JavaScript: such weights use RTN. */
export const GPTQ_MAX_FEATURES = 2048;

export function gptq(weights: Float32Array, layout: BlockLayout, grid: QuantizationGrid, hessian: InputHessian): QuantizedWeight {
  const { rows, columns } = layout;
  if (hessian.features !== rows) throw new Error(`internal: Hessian of ${hessian.features} features for a weight of ${rows} rows`);
  const groups = hessian.matrices.length;
  const groupColumns = columns / groups;
  const result: QuantizedWeight = {
    codes: new Int16Array(rows * columns),
    scales: new Float32Array(blockCount(layout) * columns),
    zeroPoints: new Int16Array(blockCount(layout) * columns),
  };
  for (let group = 0; group < groups; group++) {
    const first = group * groupColumns;
    const slice = new Float64Array(rows * groupColumns);
    for (let row = 0; row < rows; row++) {
      for (let column = 0; column < groupColumns; column++) slice[row * groupColumns + column] = weights[row * columns + first + column]!;
    }
    quantizeColumns(slice, groupColumns, first, layout, grid, hessian.matrices[group]!, result);
  }
  return result;
}

function quantizeColumns(
  original: Float64Array,
  width: number,
  firstColumn: number,
  { rows, columns, blockSize }: BlockLayout,
  grid: QuantizationGrid,
  hessianMatrix: Float64Array,
  { codes, scales, zeroPoints }: QuantizedWeight,
): void {
  // Block parameters come from the original weights, before any error feedback ("static groups"), so
  // features can be visited in any order while each block keeps one scale.
  const blocks = Math.ceil(rows / blockSize);
  const parameters: BlockParameters[] = new Array(blocks * width);
  const block = new Float32Array(blockSize);
  for (let b = 0; b < blocks; b++) {
    const end = Math.min(rows, (b + 1) * blockSize);
    for (let column = 0; column < width; column++) {
      for (let row = b * blockSize; row < end; row++) block[row - b * blockSize] = original[row * width + column]!;
      const chosen = grid.parameters(block.subarray(0, end - b * blockSize));
      parameters[b * width + column] = chosen;
      scales[b * columns + firstColumn + column] = chosen.scale;
      zeroPoints[b * columns + firstColumn + column] = chosen.zeroPoint;
    }
  }
  // Act order: features with the largest input energy first, while the most later features remain to
  // absorb their error (GPTQ's --act-order).
  const order = Array.from({ length: rows }, (_, k) => k).sort((a, b) => hessianMatrix[b * rows + b]! - hessianMatrix[a * rows + a]!);
  const hessian = new Float64Array(rows * rows);
  const weights = new Float64Array(rows * width);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) hessian[i * rows + j] = hessianMatrix[order[i]! * rows + order[j]!]!;
    weights.set(original.subarray(order[i]! * width, (order[i]! + 1) * width), i * width);
  }
  // An input feature that is always zero never affects the output: its weights may as well be zero.
  for (let k = 0; k < rows; k++) {
    if (hessian[k * rows + k]! > 0) continue;
    hessian[k * rows + k] = 1;
    weights.fill(0, k * width, (k + 1) * width);
  }
  const inverse = upperCholeskyOfInverse(hessian, rows);
  const errors = new Float64Array(width);
  for (let k = 0; k < rows; k++) {
    const originalRow = order[k]!;
    const rowParameters = Math.floor(originalRow / blockSize) * width;
    const diagonal = inverse[k * rows + k]!;
    const row = k * width;
    for (let column = 0; column < width; column++) {
      const value = weights[row + column]!;
      const chosen = parameters[rowParameters + column]!;
      const code = grid.encode(value, chosen);
      codes[originalRow * columns + firstColumn + column] = code;
      errors[column] = (value - grid.decode(code, chosen)) / diagonal;
    }
    for (let later = k + 1; later < rows; later++) {
      const factor = inverse[k * rows + later]!;
      if (factor === 0) continue;
      const target = later * width;
      for (let column = 0; column < width; column++) weights[target + column]! -= errors[column]! * factor;
    }
  }
}

/**
 * U upper triangular with H^-1 = U^T U, after dampening H. Computed as U = R^-1 where H = R R^T with R upper
 * (a Cholesky factorisation run from the last row up), which needs one factorisation and one triangular
 * inverse instead of a full inverse and a second factorisation. Dampening grows tenfold if H is not
 * numerically positive definite.
 */
export function upperCholeskyOfInverse(hessian: Float64Array, size: number): Float64Array {
  let trace = 0;
  for (let k = 0; k < size; k++) trace += hessian[k * size + k]!;
  for (let dampening = GPTQ_DAMPENING; ; dampening *= 10) {
    const damped = Float64Array.from(hessian);
    for (let k = 0; k < size; k++) damped[k * size + k]! += (dampening * trace) / size;
    const factor = upperFactor(damped, size);
    if (factor) return invertUpper(factor, size);
    if (dampening > 1e3) throw new Error('internal: Hessian is not positive definite even after dampening');
  }
}

/** R upper with H = R R^T, or undefined when a pivot is not positive. */
function upperFactor(matrix: Float64Array, size: number): Float64Array | undefined {
  const factor = new Float64Array(size * size);
  for (let j = size - 1; j >= 0; j--) {
    let pivot = matrix[j * size + j]!;
    for (let k = j + 1; k < size; k++) pivot -= factor[j * size + k]! ** 2;
    if (!(pivot > 0)) return undefined;
    const diagonal = Math.sqrt(pivot);
    factor[j * size + j] = diagonal;
    for (let i = 0; i < j; i++) {
      let sum = matrix[i * size + j]!;
      for (let k = j + 1; k < size; k++) sum -= factor[i * size + k]! * factor[j * size + k]!;
      factor[i * size + j] = sum / diagonal;
    }
  }
  return factor;
}

function invertUpper(factor: Float64Array, size: number): Float64Array {
  const inverse = new Float64Array(size * size);
  for (let j = 0; j < size; j++) {
    inverse[j * size + j] = 1 / factor[j * size + j]!;
    for (let i = j - 1; i >= 0; i--) {
      let sum = 0;
      for (let k = i + 1; k <= j; k++) sum += factor[i * size + k]! * inverse[k * size + j]!;
      inverse[i * size + j] = -sum / factor[i * size + i]!;
    }
  }
  return inverse;
}
