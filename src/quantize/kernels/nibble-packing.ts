import type { BlockLayout } from '../algorithms/quantization-grid.js';
import { blockCount } from '../algorithms/quantization-grid.js';

/**
 * Two 4-bit codes per byte, the first in the low nibble: the order of ONNX INT4/UINT4 tensors (onnx.proto:
 * `pack(x, y) = y << 4 | x & 0x0F`), of MatMulNBits' B and zero points and of uint8 GatherBlockQuantized
 * ("the first 4 bits are stored in the lower 4 bits of a byte"). Signed codes keep their two's complement
 * nibble (-1 -> 0xF).
 */

/** ONNX INT4/UINT4 tensor data: the whole tensor flattened, ceil(n/2) bytes, an odd last nibble zero. */
export function packNibbles(codes: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(codes.length / 2));
  for (let index = 0; index < codes.length; index++) {
    bytes[index >> 1]! |= (codes[index]! & 0x0f) << ((index & 1) * 4);
  }
  return bytes;
}

/**
 * A row-major [rows, columns] matrix packed row by row, each row starting on a byte boundary: the layout
 * of MatMulNBits and GatherBlockQuantized zero points ([rows, ceil(columns/2)] bytes).
 */
export function packNibbleRows(values: ArrayLike<number>, rows: number, columns: number): Uint8Array {
  const rowBytes = Math.ceil(columns / 2);
  const bytes = new Uint8Array(rows * rowBytes);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      bytes[row * rowBytes + (column >> 1)]! |= (values[row * columns + column]! & 0x0f) << ((column & 1) * 4);
    }
  }
  return bytes;
}

/**
 * MatMulNBits' B: uint8 [N, k_blocks, blockSize/2], i.e. each column of the [K, N] codes in K order, two
 * per byte. K is padded to whole blocks; the padding rows get `paddingCodes` (the zero point of their
 * block, [blocks, N] like the zero points), so they decode to exactly 0 whatever a kernel does with them.
 */
export function packMatMulNBitsWeight(codes: ArrayLike<number>, layout: BlockLayout, paddingCodes: ArrayLike<number>): Uint8Array {
  const { rows, columns, blockSize } = layout;
  const blocks = blockCount(layout);
  const paddedRows = blocks * blockSize;
  const columnBytes = paddedRows / 2;
  const bytes = new Uint8Array(columns * columnBytes);
  // Tiles of rows keep the codes being read in cache while the output is written column by column.
  for (let tileStart = 0; tileStart < paddedRows; tileStart += PACKING_TILE_ROWS) {
    const tileEnd = Math.min(paddedRows, tileStart + PACKING_TILE_ROWS);
    for (let column = 0; column < columns; column++) {
      const base = column * columnBytes;
      const padding = paddingCodes[(blocks - 1) * columns + column]! & 0x0f;
      for (let row = tileStart; row < tileEnd; row += 2) {
        const low = row < rows ? codes[row * columns + column]! & 0x0f : padding;
        const high = row + 1 < rows ? codes[(row + 1) * columns + column]! & 0x0f : padding;
        bytes[base + (row >> 1)] = low | (high << 4);
      }
    }
  }
  return bytes;
}

/** Rows per tile when packing (even, so a tile never splits a byte): 64 rows of codes fit in L2 cache. */
const PACKING_TILE_ROWS = 64;

/** MatMulNBits' packed zero points: uint8 [N, ceil(k_blocks/2)] from [blocks, N], each column's blocks in order. */
export function packMatMulNBitsZeroPoints(zeroPoints: Int16Array, layout: BlockLayout): Uint8Array {
  const blocks = blockCount(layout);
  return packNibbleRows(transposeMatrix(zeroPoints, blocks, layout.columns), layout.columns, blocks);
}

type NumericArray = Float32Array | Int16Array | Uint8Array;

/** [rows, columns] row-major -> [columns, rows] row-major: the runtimes' layouts are column-major to ours. */
export function transposeMatrix<T extends NumericArray>(values: T, rows: number, columns: number): T {
  const result = new (values.constructor as new (length: number) => T)(values.length);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) result[column * rows + row] = values[row * columns + column]!;
  }
  return result;
}
