import type { BlockLayout, BlockParameters, QuantizationGrid, QuantizedWeight } from './quantization-grid.js';
import { blockCount } from './quantization-grid.js';

/** RTN: each block gets the grid's scale and zero point, and each weight the nearest code. Data-free. */
export function roundToNearest(weights: Float32Array, layout: BlockLayout, grid: QuantizationGrid): QuantizedWeight {
  const blocks = blockCount(layout);
  const result: QuantizedWeight = {
    codes: new Int16Array(layout.rows * layout.columns),
    scales: new Float32Array(blocks * layout.columns),
    zeroPoints: new Int16Array(blocks * layout.columns),
  };
  if (grid.fromRange) rowMajor(weights, layout, grid, grid.fromRange, result);
  else columnByColumn(weights, layout, grid, result);
  return result;
}

/** Grids whose parameters follow from min and max: two passes over each block's rows, in memory order. */
function rowMajor(
  weights: Float32Array,
  { rows, columns, blockSize }: BlockLayout,
  grid: QuantizationGrid,
  fromRange: (min: number, max: number) => BlockParameters,
  { codes, scales, zeroPoints }: QuantizedWeight,
): void {
  const minimums = new Float32Array(columns);
  const maximums = new Float32Array(columns);
  const parameters: BlockParameters[] = new Array(columns);
  for (let start = 0, b = 0; start < rows; start += blockSize, b++) {
    const end = Math.min(rows, start + blockSize);
    minimums.fill(Infinity);
    maximums.fill(-Infinity);
    for (let row = start; row < end; row++) {
      const offset = row * columns;
      for (let column = 0; column < columns; column++) {
        const value = weights[offset + column]!;
        if (value < minimums[column]!) minimums[column] = value;
        if (value > maximums[column]!) maximums[column] = value;
      }
    }
    for (let column = 0; column < columns; column++) {
      const chosen = fromRange(minimums[column]!, maximums[column]!);
      parameters[column] = chosen;
      scales[b * columns + column] = chosen.scale;
      zeroPoints[b * columns + column] = chosen.zeroPoint;
    }
    if (grid.encodeRows) {
      grid.encodeRows(weights, start, end, columns, parameters, codes);
      continue;
    }
    for (let row = start; row < end; row++) {
      const offset = row * columns;
      for (let column = 0; column < columns; column++) codes[offset + column] = grid.encode(weights[offset + column]!, parameters[column]!);
    }
  }
}

/** Any grid: gather each block of a column, then ask the grid. */
function columnByColumn(weights: Float32Array, layout: BlockLayout, grid: QuantizationGrid, { codes, scales, zeroPoints }: QuantizedWeight): void {
  const { rows, columns, blockSize } = layout;
  const block = new Float32Array(blockSize);
  for (let start = 0, b = 0; start < rows; start += blockSize, b++) {
    const end = Math.min(rows, start + blockSize);
    const values = block.subarray(0, end - start);
    for (let column = 0; column < columns; column++) {
      for (let row = start; row < end; row++) values[row - start] = weights[row * columns + column]!;
      const parameters = grid.parameters(values);
      scales[b * columns + column] = parameters.scale;
      zeroPoints[b * columns + column] = parameters.zeroPoint;
      for (let row = start; row < end; row++) codes[row * columns + column] = grid.encode(values[row - start]!, parameters);
    }
  }
}
