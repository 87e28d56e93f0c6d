import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { makeFloatTensor, makeGraph, makeModel, makeNode, makeValueInfo } from '../src/onnx/builders.js';
import { ONNX_TYPE } from '../src/onnx/data-types.js';
import { loadOnnxModel, OnnxModel } from '../src/onnx/onnx-model.js';
import type { ModelProto } from '../src/onnx/onnx-proto.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { silentLogger } from '../src/terminal/logger.js';
import { quantizeInt4Blockwise } from '../src/quantize/onnx/int4-blockwise.js';
import { defaultQuantizeOptions, type QuantizeOptions } from '../src/quantize/quantize-options.js';
import { WeightSelection } from '../src/quantize/weight-selection.js';
import { roundToNearest } from '../src/quantize/algorithms/round-to-nearest.js';
import { INT4_GRIDS } from '../src/quantize/kernels/int4-grids.js';
import { packMatMulNBitsWeight, packMatMulNBitsZeroPoints, packNibbleRows, packNibbles } from '../src/quantize/kernels/nibble-packing.js';

/**
 * The int4 grids and byte layouts against cases worked out by hand (the expected numbers below were
 * computed on paper from the rules in ContribOperators.md / onnx.proto / mlas q4_dq.cpp, not by this code).
 */

/**
 * One column of 32 values with min -3 and max 4.5: asymmetric scale (4.5 + 3) / 15 = 0.5, zero point
 * round(3 / 0.5) = 6, code = round(v / 0.5 + 6). The first 16 values hit codes 0..15 exactly; then
 * 0.24 -> 6.48 -> 6, 0.26 -> 6.52 -> 7, -0.26 -> 5.48 -> 5, -0.24 -> 5.52 -> 6, 1.74 -> 9.48 -> 9,
 * 1.76 -> 9.52 -> 10, -1.1 -> 3.8 -> 4, 4.4 -> 14.8 -> 15, and eight zeros -> 6.
 */
const ASYMMETRIC_COLUMN = [
  -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5,
  0.24, 0.26, -0.26, -0.24, 1.74, 1.76, -1.1, 4.4, 0, 0, 0, 0, 0, 0, 0, 0,
];
const ASYMMETRIC_CODES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 6, 7, 5, 6, 9, 10, 4, 15, 6, 6, 6, 6, 6, 6, 6, 6];
/** Code pairs (first, second) -> byte (second << 4 | first). */
const ASYMMETRIC_BYTES = [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x76, 0x65, 0xa9, 0xf4, 0x66, 0x66, 0x66, 0x66];
/** (code - 6) * 0.5 */
const ASYMMETRIC_DECODED = [
  -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 0, 0.5, -0.5, 0, 1.5, 2, -1, 4.5, 0, 0, 0, 0, 0, 0, 0, 0,
];

/**
 * 16 values whose largest magnitude is +4: symmetric scale 4 / -8 = -0.5, code = round(v / -0.5 + 8) clamped
 * to 0..15: 4 -> 0, -3.5 -> 15, -3.75 -> 15.5 -> 16 -> 15, 0 -> 8, 1 -> 6, -1 -> 10, 0.26 -> 7.48 -> 7,
 * 0.24 -> 7.52 -> 8, eight zeros -> 8.
 */
const SYMMETRIC_COLUMN = [4, -3.5, -3.75, 0, 1, -1, 0.26, 0.24, 0, 0, 0, 0, 0, 0, 0, 0];
const SYMMETRIC_CODES = [0, 15, 15, 8, 6, 10, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8];
const SYMMETRIC_BYTES = [0xf0, 0x8f, 0xa6, 0x87, 0x88, 0x88, 0x88, 0x88];
/** The same codes less 8, as int4 two's complement nibbles: -8 -> 8, 7 -> 7, -2 -> E, 2 -> 2, -1 -> F. */
const SIGNED_SYMMETRIC_BYTES = [0x78, 0x07, 0x2e, 0x0f, 0x00, 0x00, 0x00, 0x00];
/** (code - 8) * -0.5 */
const SYMMETRIC_DECODED = [4, -3.5, -3.5, 0, 1, -1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/**
 * Eight values, min -6 and max 1.5: scale 7.5 / 15 = 0.5, zero point 12; codes 0, 1, 10, 12, 13, 14, 15, 11.
 * Used as the partial second block of a K = 40 column (block 32): its 24 padding rows hold the zero point 12.
 */
const PARTIAL_BLOCK = [-6, -5.5, -1, 0, 0.5, 1, 1.5, -0.5];
const PARTIAL_BLOCK_BYTES = [0x10, 0xca, 0xed, 0xbf];

describe('int4 grids (hand-computed)', () => {
  it('asymmetric: scale (max-min)/15 over a range widened to 0, zero point round(-min/scale), codes 0..15', () => {
    const quantized = roundToNearest(Float32Array.from(ASYMMETRIC_COLUMN), { rows: 32, columns: 1, blockSize: 32 }, INT4_GRIDS['uint4-asymmetric']);
    assert.deepEqual([...quantized.scales], [0.5]);
    assert.deepEqual([...quantized.zeroPoints], [6]);
    assert.deepEqual([...quantized.codes], ASYMMETRIC_CODES);
    const decoded = ASYMMETRIC_CODES.map((code) => INT4_GRIDS['uint4-asymmetric'].decode(code, { scale: 0.5, zeroPoint: 6 }));
    assert.deepEqual(decoded, ASYMMETRIC_DECODED);
  });

  it('asymmetric: an all-positive block keeps 0 exact (zero point 0), an all-zero block gets scale 0', () => {
    const grid = INT4_GRIDS['uint4-asymmetric'];
    // min widened to 0, max 7.5: scale 0.5, zero point 0
    assert.deepEqual(grid.parameters(Float32Array.from([1, 7.5, 2])), { scale: 0.5, zeroPoint: 0 });
    assert.deepEqual(grid.parameters(new Float32Array(4)), { scale: 0, zeroPoint: 0 });
    assert.equal(grid.encode(0, { scale: 0, zeroPoint: 0 }), 0);
  });

  it('symmetric (implicit zero point 8): scale = signed extreme / -8, so +4 lands on code 0', () => {
    const quantized = roundToNearest(Float32Array.from(SYMMETRIC_COLUMN), { rows: 16, columns: 1, blockSize: 16 }, INT4_GRIDS['uint4-symmetric']);
    assert.deepEqual([...quantized.scales], [-0.5]);
    assert.deepEqual([...quantized.zeroPoints], [8]);
    assert.deepEqual([...quantized.codes], SYMMETRIC_CODES);
    // (8 - 8) * -0.5 is -0: compare values, not signs of zero
    const decoded = SYMMETRIC_CODES.map((code) => INT4_GRIDS['uint4-symmetric'].decode(code, { scale: -0.5, zeroPoint: 8 }) + 0);
    assert.deepEqual(decoded, SYMMETRIC_DECODED);
  });

  it('symmetric: on a tie between +m and -m the negative one sets the scale (as onnxruntime compares strictly)', () => {
    // extreme -2 -> scale 0.25; +2 -> round(8 + 8) = 16 -> clamped to 15
    const parameters = INT4_GRIDS['uint4-symmetric'].parameters(Float32Array.from([2, -2, 1]));
    assert.equal(parameters.scale, 0.25);
    assert.equal(INT4_GRIDS['uint4-symmetric'].encode(2, parameters), 15);
    assert.equal(INT4_GRIDS['uint4-symmetric'].encode(-2, parameters), 0);
  });

  it('signed int4 (QDQ without zero point): the unsigned symmetric codes less 8, range -8..7', () => {
    const quantized = roundToNearest(Float32Array.from(SYMMETRIC_COLUMN), { rows: 16, columns: 1, blockSize: 16 }, INT4_GRIDS['int4-symmetric']);
    assert.deepEqual([...quantized.scales], [-0.5]);
    assert.deepEqual([...quantized.zeroPoints], [0]);
    assert.deepEqual([...quantized.codes], SYMMETRIC_CODES.map((code) => code - 8));
    assert.equal(INT4_GRIDS['int4-symmetric'].minCode, -8);
    assert.equal(INT4_GRIDS['int4-symmetric'].maxCode, 7);
  });
});

describe('nibble packing (hand-computed)', () => {
  it('ONNX INT4/UINT4: first element in the low nibble, ceil(n/2) bytes, odd tail zero-filled', () => {
    assert.deepEqual([...packNibbles([1, 2, 3])], [0x21, 0x03]);
    assert.notDeepEqual([...packNibbles([1, 2])], [0x12], 'high-nibble-first order must not be used');
    // signed: -1 -> 0xF, 7 -> 0x7, -8 -> 0x8
    assert.deepEqual([...packNibbles([-1, 7, -8])], [0x7f, 0x08]);
    assert.deepEqual([...packNibbles(SYMMETRIC_CODES.map((code) => code - 8))], SIGNED_SYMMETRIC_BYTES);
  });

  it('rows packed separately, each starting on a byte: [[1,2,3],[4,5,6]] -> [0x21,0x03,0x54,0x06]', () => {
    assert.deepEqual([...packNibbleRows([1, 2, 3, 4, 5, 6], 2, 3)], [0x21, 0x03, 0x54, 0x06]);
  });

  it('MatMulNBits B: one 32-row column -> [1, 1, 16] bytes, K order, low nibble first', () => {
    const bytes = packMatMulNBitsWeight(ASYMMETRIC_CODES, { rows: 32, columns: 1, blockSize: 32 }, [6]);
    assert.deepEqual([...bytes], ASYMMETRIC_BYTES);
    assert.deepEqual([...packMatMulNBitsWeight(SYMMETRIC_CODES, { rows: 16, columns: 1, blockSize: 16 }, [8])], SYMMETRIC_BYTES);
  });

  it('MatMulNBits B: columns are laid out one after the other (N major), rows within a column', () => {
    // codes [K=2... padded to 16, N=2]: column 0 = (1, 2), column 1 = (3, 4); padding with zero point 0 / 5
    const bytes = packMatMulNBitsWeight([1, 3, 2, 4], { rows: 2, columns: 2, blockSize: 16 }, [0, 5]);
    assert.deepEqual([...bytes], [0x21, 0, 0, 0, 0, 0, 0, 0, 0x43, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55]);
  });

  it('MatMulNBits B: K = 40 with block 32 pads the second block with its zero point', () => {
    const codes = [...ASYMMETRIC_CODES, 0, 1, 10, 12, 13, 14, 15, 11];
    const bytes = packMatMulNBitsWeight(codes, { rows: 40, columns: 1, blockSize: 32 }, [6, 12]);
    assert.deepEqual([...bytes], [...ASYMMETRIC_BYTES, ...PARTIAL_BLOCK_BYTES, ...new Array(12).fill(0xcc)]);
  });

  it('MatMulNBits zero points: [blocks=3, N=2] -> [N, 2] bytes, each column blocks in order, low nibble first', () => {
    // column 0 has zero points (1, 3, 5), column 1 has (2, 4, 6)
    const packed = packMatMulNBitsZeroPoints(Int16Array.from([1, 2, 3, 4, 5, 6]), { rows: 40, columns: 2, blockSize: 16 });
    assert.deepEqual([...packed], [0x31, 0x05, 0x42, 0x06]);
  });
});

// ------------------------------------------------------------------ the same cases through the whole scheme

let workDir: string;
before(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-int4-bytes-'));
});
after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

function int4Options(overrides: Partial<QuantizeOptions>): QuantizeOptions {
  // accuracy_level 0: onnxruntime's exact fp32 path, so outputs can be held to the dequantized oracle
  // (level 4, the default, quantizes the activations too).
  return defaultQuantizeOptions('int4', { accuracyLevel: 0, ...overrides });
}

/** x[K, K] -> MatMul(W[K, 1]): fed the identity, the output is the weight column as the runtime decodes it. */
function columnModel(column: number[], opset = 21): ModelProto {
  const rows = column.length;
  return makeModel(
    makeGraph({
      name: 'column',
      inputs: [makeValueInfo('x', 'float32', ['batch', rows])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 1])],
      initializers: [makeFloatTensor('W', [rows, 1], column)],
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
    }),
    { '': opset },
  );
}

/** x[rows] int64 -> Gather(table[2, 32]) -> y[rows, 32] */
function tableModel(table: number[]): ModelProto {
  return makeModel(
    makeGraph({
      name: 'table',
      inputs: [makeValueInfo('ids', 'int64', ['count'])],
      outputs: [makeValueInfo('y', 'float32', ['count', 32])],
      initializers: [makeFloatTensor('table', [2, 32], table)],
      nodes: [makeNode('Gather', ['table', 'ids'], ['y'], { axis: 0 })],
    }),
  );
}

async function quantizeAndSave(proto: ModelProto, name: string, options: Partial<QuantizeOptions>) {
  const source = path.join(workDir, `${name}.float.onnx`);
  await saveOnnxModel(new OnnxModel(proto, source, false), source);
  const model = await loadOnnxModel(source);
  const decisions = await quantizeInt4Blockwise({ model, options: int4Options(options), log: silentLogger });
  const output = path.join(workDir, `${name}.int4.onnx`);
  await saveOnnxModel(model, output);
  const saved = await loadOnnxModel(output);
  const tensors = new Map(saved.proto.graph!.initializer!.map((tensor) => [tensor.name!, tensor]));
  const bytesOf = async (tensorName: string) => [...(await saved.tensorBytes(tensors.get(tensorName)!))];
  const floatsOf = async (tensorName: string) => [...new Float32Array(Uint8Array.from(await bytesOf(tensorName)).buffer)];
  return { decisions, output, saved, tensors, bytesOf, floatsOf };
}

/** Runs with graph optimizations off, so DequantizeLinear is executed as written (no fusion, no int8 A). */
async function decodedColumn(modelPath: string, rows: number): Promise<number[]> {
  const identity = new Float32Array(rows * rows);
  for (let row = 0; row < rows; row++) identity[row * rows + row] = 1;
  const session = await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: 'disabled' });
  try {
    const { y } = await session.run({ x: new ort.Tensor('float32', identity, [rows, rows]) });
    return [...(y!.data as Float32Array)].map((value) => value + 0);
  } finally {
    await session.release();
  }
}

describe('int4 tensors in a saved model (hand-computed bytes, decoded by onnxruntime)', () => {
  it('MatMulNBits asymmetric: B, scales and packed zero point as computed by hand', async () => {
    const { saved, tensors, bytesOf, floatsOf, output } = await quantizeAndSave(columnModel(ASYMMETRIC_COLUMN, 17), 'nbits-asym', { blockSize: 32 });
    const node = saved.proto.graph!.node![0]!;
    assert.equal(node.op_type, 'MatMulNBits');
    assert.equal(node.domain, 'com.microsoft');
    assert.deepEqual(node.input, ['x', 'W_Q4', 'W_scales', 'W_zero_points']);
    assert.deepEqual(tensors.get('W_Q4')!.dims!.map(Number), [1, 1, 16]);
    assert.equal(tensors.get('W_Q4')!.data_type, ONNX_TYPE.UINT8);
    assert.deepEqual(await bytesOf('W_Q4'), ASYMMETRIC_BYTES);
    assert.deepEqual(tensors.get('W_scales')!.dims!.map(Number), [1, 1]);
    assert.deepEqual(await floatsOf('W_scales'), [0.5]);
    assert.deepEqual(await bytesOf('W_zero_points'), [0x06]);
    assert.deepEqual(await decodedColumn(output, 32), ASYMMETRIC_DECODED);
  });

  it('MatMulNBits symmetric: no zero_points input (implicit 8), negative scale', async () => {
    const { saved, bytesOf, floatsOf, output } = await quantizeAndSave(columnModel(SYMMETRIC_COLUMN, 17), 'nbits-sym', { blockSize: 16, symmetric: true });
    assert.deepEqual(saved.proto.graph!.node![0]!.input, ['x', 'W_Q4', 'W_scales']);
    assert.deepEqual(await bytesOf('W_Q4'), SYMMETRIC_BYTES);
    assert.deepEqual(await floatsOf('W_scales'), [-0.5]);
    assert.deepEqual(await decodedColumn(output, 16), SYMMETRIC_DECODED);
  });

  it('MatMulNBits with K = 40, block 32: two blocks, the second padded with its zero point', async () => {
    const column = [...ASYMMETRIC_COLUMN, ...PARTIAL_BLOCK];
    const { saved, tensors, bytesOf, floatsOf, output } = await quantizeAndSave(columnModel(column, 17), 'nbits-k40', { blockSize: 32 });
    const attributes = Object.fromEntries(saved.proto.graph!.node![0]!.attribute!.map((attribute) => [attribute.name, Number(attribute.i)]));
    assert.deepEqual(attributes, { K: 40, N: 1, bits: 4, block_size: 32 });
    assert.deepEqual(tensors.get('W_Q4')!.dims!.map(Number), [1, 2, 16]);
    assert.deepEqual(await bytesOf('W_Q4'), [...ASYMMETRIC_BYTES, ...PARTIAL_BLOCK_BYTES, ...new Array(12).fill(0xcc)]);
    assert.deepEqual(await floatsOf('W_scales'), [0.5, 0.5]);
    assert.deepEqual(await bytesOf('W_zero_points'), [0xc6]); // block 0: 6 (low), block 1: 12 (high)
    assert.deepEqual(await decodedColumn(output, 40), [...ASYMMETRIC_DECODED, ...PARTIAL_BLOCK]);
  });

  it('QDQ asymmetric: uint4 x [K, N] and uint4 zero point, DequantizeLinear axis 0 block_size 32 (K = 40: partial last block)', async () => {
    const column = [...ASYMMETRIC_COLUMN, ...PARTIAL_BLOCK];
    const { saved, tensors, bytesOf, floatsOf, output } = await quantizeAndSave(columnModel(column), 'qdq-asym', { blockSize: 32, int4Format: 'qdq' });
    const [dequantize, matmul] = saved.proto.graph!.node!;
    assert.equal(dequantize!.op_type, 'DequantizeLinear');
    assert.deepEqual(dequantize!.input, ['W_int4', 'W_scale', 'W_zero_point']);
    assert.deepEqual(Object.fromEntries(dequantize!.attribute!.map((attribute) => [attribute.name, Number(attribute.i)])), { axis: 0, block_size: 32 });
    assert.deepEqual(matmul!.input, ['x', 'W_dequantized']);
    assert.equal(tensors.get('W_int4')!.data_type, ONNX_TYPE.UINT4);
    assert.deepEqual(tensors.get('W_int4')!.dims!.map(Number), [40, 1]);
    // no padding in the standard layout: 40 codes, 20 bytes
    assert.deepEqual(await bytesOf('W_int4'), [...ASYMMETRIC_BYTES, ...PARTIAL_BLOCK_BYTES]);
    assert.deepEqual(tensors.get('W_scale')!.dims!.map(Number), [2, 1]);
    assert.deepEqual(await floatsOf('W_scale'), [0.5, 0.5]);
    assert.equal(tensors.get('W_zero_point')!.data_type, ONNX_TYPE.UINT4);
    assert.deepEqual(await bytesOf('W_zero_point'), [0xc6]);
    assert.deepEqual(await decodedColumn(output, 40), [...ASYMMETRIC_DECODED, ...PARTIAL_BLOCK]);
  });

  it('QDQ symmetric: int4 x (two\'s complement nibbles), no zero point', async () => {
    const { saved, tensors, bytesOf, floatsOf, output } = await quantizeAndSave(columnModel(SYMMETRIC_COLUMN), 'qdq-sym', { blockSize: 16, int4Format: 'qdq', symmetric: true });
    assert.deepEqual(saved.proto.graph!.node![0]!.input, ['W_int4', 'W_scale']);
    assert.equal(tensors.get('W_int4')!.data_type, ONNX_TYPE.INT4);
    assert.deepEqual(await bytesOf('W_int4'), SIGNED_SYMMETRIC_BYTES);
    assert.deepEqual(await floatsOf('W_scale'), [-0.5]);
    assert.deepEqual(await decodedColumn(output, 16), SYMMETRIC_DECODED);
  });

  it('GatherBlockQuantized: uint8 data [V, D/2] row by row, scales [V, blocks], zero points [V, ceil(blocks/2)]', async () => {
    const secondRow = [...PARTIAL_BLOCK, ...new Array(24).fill(0)];
    const { saved, tensors, bytesOf, floatsOf, output } = await quantizeAndSave(tableModel([...ASYMMETRIC_COLUMN, ...secondRow]), 'gather', { blockSize: 32 });
    const node = saved.proto.graph!.node![0]!;
    assert.equal(node.op_type, 'GatherBlockQuantized');
    assert.deepEqual(node.input, ['table_Q4', 'ids', 'table_scales', 'table_zero_points']);
    assert.deepEqual(
      Object.fromEntries(node.attribute!.map((attribute) => [attribute.name, Number(attribute.i)])),
      { gather_axis: 0, quantize_axis: 1, block_size: 32, bits: 4 },
    );
    assert.deepEqual(tensors.get('table_Q4')!.dims!.map(Number), [2, 16]);
    // second row: min -6, max 1.5 -> scale 0.5, zero point 12; its 24 zeros encode as 12 -> 0xCC
    assert.deepEqual(await bytesOf('table_Q4'), [...ASYMMETRIC_BYTES, ...PARTIAL_BLOCK_BYTES, ...new Array(12).fill(0xcc)]);
    assert.deepEqual(await floatsOf('table_scales'), [0.5, 0.5]);
    assert.deepEqual(await bytesOf('table_zero_points'), [0x06, 0x0c]);
    const session = await ort.InferenceSession.create(output);
    const { y } = await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from([1n, 0n]), [2]) });
    await session.release();
    assert.deepEqual([...(y!.data as Float32Array)].map((value) => value + 0), [...secondRow, ...ASYMMETRIC_DECODED]);
  });
});
