import type { Bnb4CodeBook } from './bnb4-code-books.js';
import { encodeBnb4 } from './bnb4-code-books.js';

/**
 * MatMulBnb4's weight layout (ContribOperators.md; ORT's QuantizeBlockBnb4): MatMul's B [K, N] is
 * transposed to PyTorch Linear's [N, K], flattened, cut into blocks of block_size consecutive values (a
 * block may run across rows when K is not a multiple of block_size), and stored two codes per byte with
 * the FIRST value in the HIGH nibble, the opposite of ONNX INT4 and MatMulNBits. An odd count pads the
 * last low nibble with the code of 0.0, which is what ORT's quantizer writes there.
 */

/** Row-major [K, N] -> flattened [N, K]. */
export function transposeToOutputMajor(values: Float32Array, k: number, n: number): Float32Array {
  const result = new Float32Array(values.length);
  for (let row = 0; row < k; row++) {
    for (let column = 0; column < n; column++) result[column * k + row] = values[row * n + column]!;
  }
  return result;
}

/** Codes 0..15, two per byte, first in the high nibble: ceil(count / 2) bytes. */
export function packBnb4Codes(codes: ArrayLike<number>, book: Bnb4CodeBook): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(codes.length / 2));
  const padding = encodeBnb4(book, 0);
  for (let index = 0; index < bytes.length; index++) {
    const high = codes[2 * index]! & 0x0f;
    const low = 2 * index + 1 < codes.length ? codes[2 * index + 1]! & 0x0f : padding;
    bytes[index] = (high << 4) | low;
  }
  return bytes;
}

/** The inverse of packBnb4Codes, for `count` codes. */
export function unpackBnb4Codes(bytes: Uint8Array, count: number): Uint8Array {
  const codes = new Uint8Array(count);
  for (let index = 0; index < count; index++) codes[index] = index % 2 === 0 ? bytes[index >> 1]! >> 4 : bytes[index >> 1]! & 0x0f;
  return codes;
}

/** What MatMulBnb4 reconstructs, as the [N, K] flattened weight: table[code] * absmax of the code's block. */
export function dequantizeBnb4(bytes: Uint8Array, absmax: ArrayLike<number>, count: number, blockSize: number, book: Bnb4CodeBook): Float32Array {
  const codes = unpackBnb4Codes(bytes, count);
  const values = new Float32Array(count);
  for (let index = 0; index < count; index++) {
    values[index] = Math.fround(book.values[codes[index]!]!) * absmax[Math.floor(index / blockSize)]!;
  }
  return values;
}
