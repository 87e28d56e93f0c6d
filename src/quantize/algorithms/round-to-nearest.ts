import type { BlockLayout, QuantizationGrid, QuantizedWeight } from './quantization-grid.js';
import { blockCount } from './quantization-grid.js';

/** RTN: each block gets the grid's scale and zero point, and each weight the nearest code. Data-free. */
export function roundToNearest(weights: Float32Array, layout: BlockLayout, grid: QuantizationGrid): QuantizedWeight {
  const { rows, columns, blockSize } = layout;
  const blocks = blockCount(layout);
  const codes = new Int16Array(rows * columns);
  const scales = new Float32Array(blocks * columns);
  const zeroPoints = new Int16Array(blocks * columns);
  const block = new Float32Array(blockSize);
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
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
  return { codes, scales, zeroPoints };
}
