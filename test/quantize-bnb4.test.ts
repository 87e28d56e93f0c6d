import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { makeFloatTensor, makeGraph, makeModel, makeNode, makeValueInfo } from '../src/onnx/builders.js';
import { loadOnnxModel, OnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { UsageError } from '../src/errors.js';
import { BNB4_CODE_BOOKS, encodeBnb4 } from '../src/quantize/kernels/bnb4-code-books.js';
import { packBnb4Codes, unpackBnb4Codes } from '../src/quantize/kernels/bnb4-packing.js';
import { absmaxGroups, doubleQuantizeAbsmax, restoreAbsmax } from '../src/quantize/onnx/double-quantization.js';
import { quantizeBnb4 } from '../src/quantize/onnx/bnb4.js';
import { defaultQuantizeOptions } from '../src/quantize/quantize-options.js';
import { createLogger } from '../src/terminal/logger.js';

const quiet = createLogger({ quiet: true });

/**
 * The values of a 4x4 weight in MatMulBnb4's order (B transposed to [N, K], flattened): one block of 16
 * with absmax 2, so each normalized value is the listed value / 2 exactly.
 */
const BLOCK = [2, -2, 1, 0, 0.3, -0.09, 0.5, 1.4, -1.4, -0.5, -0.3, -1, -0.8, -0.2, 0.7, 1.1];

/**
 * Codes read off ORT's decision trees (QuantizeOneNF4 / QuantizeOneFP4) by hand, for BLOCK / 2:
 * NF4   1 -> 15, -1 -> 0, 0.5 -> 12 (pivot 0.50166), 0 -> 7, 0.15 -> 9, -0.045 -> 7 (above pivot -0.045525),
 *       0.25 -> 10, 0.7 -> 14, -0.7 -> 1, -0.25 -> 4, -0.15 -> 5, -0.5 -> 2, -0.4 -> 3, -0.1 -> 6, 0.35 -> 11, 0.55 -> 13
 * FP4   sign bit 8 | magnitude code: 1 -> 0b011, 0.5 -> 0b101, 0 -> 0, 0.15 -> 0b110, 0.045 -> 0b001, 0.25 -> 0b111,
 *       0.7 -> 0b010, 0.4 -> 0b100, 0.1 -> 0b110, 0.35 -> 0b100, 0.55 -> 0b101
 * Two per byte, the first value in the high nibble.
 */
const EXPECTED_BYTES = {
  nf4: [0xf0, 0xc7, 0x97, 0xae, 0x14, 0x52, 0x36, 0xbd],
  fp4: [0x3b, 0x50, 0x69, 0x72, 0xaf, 0xed, 0xce, 0x45],
};

/** BLOCK laid out as MatMul's B [K=4, N=4]: B[k][n] = BLOCK[n*4 + k]. */
function weightFromBlock(values: number[], k: number, n: number): Float32Array {
  const weight = new Float32Array(k * n);
  for (let row = 0; row < k; row++) for (let column = 0; column < n; column++) weight[row * n + column] = values[column * k + row]!;
  return weight;
}

/** x [K] x MatMul(W [K, N]) -> y [N]... with x of shape [rows, K]. */
function singleMatMul(weight: Float32Array, k: number, n: number, opset = 17) {
  return makeModel(
    makeGraph({
      name: 'single_matmul',
      inputs: [makeValueInfo('x', 'float32', ['rows', k])],
      outputs: [makeValueInfo('y', 'float32', ['rows', n])],
      initializers: [makeFloatTensor('W', [k, n], weight)],
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'], {}, { name: 'matmul' })],
    }),
    { '': opset },
  );
}

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-bnb4-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function quantizedInMemory(proto: ReturnType<typeof singleMatMul>, scheme: 'nf4' | 'fp4', overrides = {}) {
  const file = path.join(dir, `${scheme}-${Math.random().toString(36).slice(2)}.onnx`);
  await saveOnnxModel(new OnnxModel(proto, file, false), file);
  const model = await loadOnnxModel(file);
  const decisions = await quantizeBnb4({ model, options: defaultQuantizeOptions(scheme, overrides), log: quiet }, scheme);
  const initializer = (name: string) => model.proto.graph!.initializer!.find((tensor) => tensor.name === name)!;
  const node = model.proto.graph!.node!.find((candidate) => candidate.op_type === 'MatMulBnb4')!;
  return { model, decisions, node, codes: await model.tensorBytes(initializer(node.input![1]!)), absmax: initializer(node.input![2]!) };
}

/** Run x = identity [K, K] through the saved model: the output rows are the weight as the runtime decodes it. */
async function decodedByRuntime(model: OnnxModel, k: number): Promise<Float32Array> {
  const file = path.join(dir, `decoded-${Math.random().toString(36).slice(2)}.onnx`);
  await saveOnnxModel(model, file);
  const identity = new Float32Array(k * k);
  for (let index = 0; index < k; index++) identity[index * k + index] = 1;
  const session = await ort.InferenceSession.create(file);
  try {
    const { y } = await session.run({ x: new ort.Tensor('float32', identity, [k, k]) });
    return y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('bnb4 code books', () => {
  it('hold the published NF4 values (bitsandbytes get_4bit_type("nf4"), ORT nf4_qaunt_map)', () => {
    assert.deepStrictEqual(BNB4_CODE_BOOKS.nf4.values, [
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
      -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
      0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ]);
    assert.equal(BNB4_CODE_BOOKS.nf4.quantType, 1);
  });

  it('hold the FP4 (e2m1) values {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12 by code, then negated', () => {
    const bitsandbytes = [0, 0.0625, 8, 12, 4, 6, 2, 3].map((value) => value / 12);
    const expected = [...bitsandbytes, ...bitsandbytes.map((value) => -value)];
    BNB4_CODE_BOOKS.fp4.values.forEach((value, code) => assert.ok(Math.abs(value - expected[code]!) < 1e-8, `code ${code}: ${value} vs ${expected[code]}`));
    assert.equal(BNB4_CODE_BOOKS.fp4.quantType, 0);
  });

  it('decide at the midpoints between neighbouring values, so every value maps to its nearest code', () => {
    for (const book of Object.values(BNB4_CODE_BOOKS)) {
      const levels = book.levelCodes.map((code) => book.values[code]!);
      book.boundaries.forEach((pivot, index) => {
        const midpoint = (levels[index]! + levels[index + 1]!) / 2;
        assert.ok(Math.abs(pivot - midpoint) < 1e-6, `${book.name} pivot ${index}: ${pivot} vs midpoint ${midpoint}`);
      });
      // Exact table values encode to themselves.
      book.values.forEach((value) => {
        const back = encodeBnb4(book, value);
        assert.ok(book.values[back] === value, `${book.name} ${value} -> code ${back}`); // === : FP4's -0 may come back as 0
      });
    }
  });
});

describe('bnb4 packing', () => {
  it('puts the first code in the high nibble and pads an odd count with the code of 0', () => {
    assert.deepStrictEqual([...packBnb4Codes([0x1, 0x2, 0xa, 0xf, 0x3], BNB4_CODE_BOOKS.nf4)], [0x12, 0xaf, 0x37]);
    assert.deepStrictEqual([...packBnb4Codes([0x1, 0x2, 0xa], BNB4_CODE_BOOKS.fp4)], [0x12, 0xa0]);
    assert.deepStrictEqual([...unpackBnb4Codes(Uint8Array.of(0x12, 0xaf, 0x37), 5)], [1, 2, 10, 15, 3]);
  });

  for (const scheme of ['nf4', 'fp4'] as const) {
    it(`${scheme}: a 16-value block gives the hand-computed bytes, and onnxruntime decodes them back`, async () => {
      const { model, node, codes, absmax, decisions } = await quantizedInMemory(singleMatMul(weightFromBlock(BLOCK, 4, 4), 4, 4), scheme, { blockSize: 16 });
      assert.deepStrictEqual([...codes], EXPECTED_BYTES[scheme]);
      assert.deepStrictEqual([...(await model.tensorAsFloat32(absmax))], [2]);
      const attributes = Object.fromEntries(node.attribute!.map((attribute) => [attribute.name, Number(attribute.i)]));
      assert.deepStrictEqual(attributes, { K: 4, N: 4, block_size: 16, quant_type: BNB4_CODE_BOOKS[scheme].quantType });
      assert.equal(node.domain, 'com.microsoft');
      assert.equal(decisions[0]!.bytesAfter, 8 + 4);

      // Decode by hand from the expected bytes (high nibble first) and compare with what ORT computes.
      const table = BNB4_CODE_BOOKS[scheme].values;
      const handCodes = EXPECTED_BYTES[scheme].flatMap((byte) => [byte >> 4, byte & 0x0f]);
      const expected = weightFromBlock(handCodes.map((code) => Math.fround(table[code]!) * 2), 4, 4);
      assert.deepStrictEqual([...(await decodedByRuntime(model, 4))], [...expected]);
    });
  }

  it('an odd element count pads the last low nibble with the code of 0 (NF4 7, FP4 0)', async () => {
    // W [K=1, N=3] = [4, -2, 1]: absmax 4, normalized 1, -0.5, 0.25.
    const weight = Float32Array.of(4, -2, 1);
    const nf4 = await quantizedInMemory(singleMatMul(weight, 1, 3), 'nf4', { blockSize: 16 });
    assert.deepStrictEqual([...nf4.codes], [0xf2, 0xa7]);
    const fp4 = await quantizedInMemory(singleMatMul(weight, 1, 3), 'fp4', { blockSize: 16 });
    assert.deepStrictEqual([...fp4.codes], [0x3d, 0x70]);
    assert.deepStrictEqual([...(await decodedByRuntime(fp4.model, 1))], [4, -2, 1]);
  });

  it('blocks run along K of each output column, across columns when K is not a multiple of the block', async () => {
    // W [K=24, N=2]: column 0 is 1..24, column 1 is -(1..24). Transposed and flattened, block 0 holds
    // column 0's 16 first values (absmax 16), block 1 its last 8 and column 1's first 8 (absmax 24), block 2
    // column 1's last 16 (absmax 24).
    const weight = new Float32Array(48);
    for (let row = 0; row < 24; row++) {
      weight[row * 2] = row + 1;
      weight[row * 2 + 1] = -(row + 1);
    }
    const { model, absmax } = await quantizedInMemory(singleMatMul(weight, 24, 2), 'nf4', { blockSize: 16 });
    assert.deepStrictEqual([...(await model.tensorAsFloat32(absmax))], [16, 24, 24]);
  });

  it('refuses block sizes MatMulBnb4 or onnxruntime cannot run', async () => {
    for (const blockSize of [8, 48, 512]) {
      await assert.rejects(quantizedInMemory(singleMatMul(new Float32Array(64), 8, 8), 'nf4', { blockSize }), UsageError);
    }
  });
});

describe('bnb4 double quantization', () => {
  it('groups the absmax values by at most 256 with little padding', () => {
    assert.deepStrictEqual(absmaxGroups(16), { groups: 1, groupLength: 16, padding: 0 });
    assert.deepStrictEqual(absmaxGroups(256), { groups: 1, groupLength: 256, padding: 0 });
    assert.deepStrictEqual(absmaxGroups(257), { groups: 2, groupLength: 129, padding: 1 });
    assert.deepStrictEqual(absmaxGroups(1024), { groups: 4, groupLength: 256, padding: 0 });
  });

  it('subtracts the mean, then stores int8 codes with a per-group scale (hand-computed case)', () => {
    // Mean 2; centered [-1, 0, 1, 0]; scale 1/127; codes [-127, 0, 127, 0].
    const quantized = doubleQuantizeAbsmax(Float32Array.of(1, 2, 3, 2));
    assert.equal(quantized.offset, 2);
    assert.deepStrictEqual([...quantized.codes], [-127, 0, 127, 0]);
    assert.deepStrictEqual([...quantized.scales], [Math.fround(1 / 127)]);
    const restored = restoreAbsmax(quantized, 4);
    [1, 2, 3, 2].forEach((value, index) => assert.ok(Math.abs(restored[index]! - value) < 1e-6));
  });

  it('restores realistic absmax values to within 0.5% of their spread', () => {
    const absmax = Float32Array.from({ length: 1000 }, (_, index) => 0.02 + 0.01 * Math.abs(Math.sin(index * 1.7)));
    const restored = restoreAbsmax(doubleQuantizeAbsmax(absmax), absmax.length);
    let worst = 0;
    absmax.forEach((value, index) => (worst = Math.max(worst, Math.abs(restored[index]! - value))));
    // Spread around the mean is at most 0.01; int8 steps are range / 127, so errors stay under half a step.
    assert.ok(worst <= 0.01 / 254 + 1e-7, `worst absmax error ${worst}`);
  });
});
