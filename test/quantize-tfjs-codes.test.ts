import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ModelpressError, UsageError } from '../src/errors.js';
import { weightAlgorithm } from '../src/quantize/algorithms/weight-algorithms.js';
import { defaultQuantizeOptions } from '../src/quantize/quantize-options.js';
import { tfjsAffineGrid } from '../src/quantize/tfjs/tfjs-affine-grid.js';
import { roundHalfToEven } from '../src/numeric/round-half-to-even.js';
import { quantizeTfjsWeights, TFJS_DEQUANTIZES_ON_LOAD_NOTE } from '../src/quantize/tfjs/tfjs-weight-quantization.js';
import { TFJS_WEIGHT_STORAGE } from '../src/quantize/tfjs/tfjs-weight-storage.js';
import { WeightSelection } from '../src/quantize/weight-selection.js';
import { silentLogger } from '../src/terminal/logger.js';
import { decodeTfjsWeight } from '../src/tfjs/decode-weight.js';
import { loadTfjsModel, tfjsModelFiles, type TfjsWeightEntry } from '../src/tfjs/load-tfjs-model.js';
import type { TfjsManifestGroup, TfjsModelJson, TfjsWeightSpec } from '../src/tfjs/model-json.js';
import { saveTfjsModel } from '../src/tfjs/save-tfjs-model.js';

/**
 * tfjs-converter's quantization rules checked against codes worked out by hand. Every case uses float32
 * values whose range makes the scale a power of two (255/64 over 255 codes = 1/64; 65535/4096 over 65535 =
 * 1/4096), so min, scale and every code are exact and can be written down here without the code under test.
 */

let workDir: string;

before(async () => {
  await tf.setBackend('cpu');
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-quantize-tfjs-codes-'));
});

after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});


function float32Bytes(values: number[]): Uint8Array {
  const floats = Float32Array.from(values);
  return new Uint8Array(floats.buffer);
}

/** Little-endian bytes written one by one, so the expectation does not lean on the host's typed arrays. */
function littleEndianUint16(codes: number[]): number[] {
  return codes.flatMap((code) => [code & 0xff, code >> 8]);
}

/** What tfjs itself makes of the stored bytes: proof that tfjs reads what we write. */
async function tfjsDecoded(spec: TfjsWeightSpec, bytes: Uint8Array): Promise<number[]> {
  const tensors = tf.io.decodeWeights(bytes.slice().buffer, [spec as tf.io.WeightsManifestEntry]);
  const values = Array.from(await tensors[spec.name]!.data());
  tf.dispose(Object.values(tensors));
  return values;
}

interface AffineCase {
  name: string;
  values: number[];
  min: number;
  scale: number;
  codes: number[];
  /** What tfjs reconstructs: code * scale + min, as float32. */
  decoded: number[];
}

const UINT8_CASES: AffineCase[] = [
  {
    // range [-33/128, 477/128]: scale 1/64; -min/scale = 16.5 rounds half to even -> zero point 16, min' = -0.25.
    // The minimum itself clips to min'; 254.5 and 0.5 round to the even 254 and 0; 0.1f -> 22.4 -> 22.
    name: 'zero inside the range: nudged so 0 is exact, halves to even',
    values: [-0.2578125, 0, 0.1, 3.7265625, -0.2421875],
    min: -0.25,
    scale: 0.015625,
    codes: [0, 16, 22, 254, 0],
    decoded: [-0.25, 0, 0.09375, 3.71875, -0.25],
  },
  {
    // min > 0: no nudge, min stays 0.5; 1.5078125 * 64 = 96.5 -> 96.
    name: 'all positive: no nudge',
    values: [0.5, 1, 4.484375, 2.0078125],
    min: 0.5,
    scale: 0.015625,
    codes: [0, 32, 255, 96],
    decoded: [0.5, 1, 4.484375, 2],
  },
  {
    name: 'all negative: no nudge',
    values: [-4.484375, -0.5, -1],
    min: -4.484375,
    scale: 0.015625,
    codes: [0, 255, 223],
    decoded: [-4.484375, -0.5, -1],
  },
  {
    // A constant tensor: scale 1, codes 0, min the value itself (float32 0.7 read as a double).
    name: 'constant tensor: all zeros with scale 1',
    values: [0.7, 0.7, 0.7],
    min: 0.699999988079071044921875,
    scale: 1,
    codes: [0, 0, 0],
    decoded: [0.699999988079071044921875, 0.699999988079071044921875, 0.699999988079071044921875],
  },
];

const UINT16_CASES: AffineCase[] = [
  {
    // range [-2.5/4096, 65532.5/4096]: scale 1/4096; -min/scale = 2.5 -> zero point 2, min' = -2/4096.
    // Codes above 32767 (65534) check that nothing passes them through a signed 16-bit type.
    name: 'zero inside the range: nudged, halves to even',
    values: [-0.0006103515625, 0, 1, 15.9991455078125],
    min: -0.00048828125,
    scale: 0.000244140625,
    codes: [0, 2, 4098, 65534],
    decoded: [-0.00048828125, 0, 1, 15.9990234375],
  },
  {
    name: 'all positive: codes up to 65535',
    values: [1, 16.999755859375, 9],
    min: 1,
    scale: 0.000244140625,
    codes: [0, 65535, 32768],
    decoded: [1, 16.999755859375, 9],
  },
];

function storedBytes(storage: 'uint8' | 'uint16', codes: number[]): number[] {
  return storage === 'uint8' ? codes : littleEndianUint16(codes);
}

describe('tfjs-converter affine rule (uint8 / uint16)', () => {
  for (const [storage, cases] of [['uint8', UINT8_CASES], ['uint16', UINT16_CASES]] as const) {
    for (const testCase of cases) {
      test(`${storage}, ${testCase.name}: codes, min, scale, and tfjs decodes them`, async () => {
        const encoded = TFJS_WEIGHT_STORAGE[storage].encode(Float32Array.from(testCase.values), weightAlgorithm('rtn'), 'w');
        assert.deepEqual(encoded.quantization, { dtype: storage, min: testCase.min, scale: testCase.scale, original_dtype: 'float32' });
        assert.deepEqual(Array.from(encoded.bytes), storedBytes(storage, testCase.codes));
        const spec: TfjsWeightSpec = { name: 'w', shape: [testCase.values.length], dtype: 'float32', quantization: encoded.quantization };
        assert.deepEqual(Array.from(decodeTfjsWeight(spec, encoded.bytes) as Float32Array), testCase.decoded);
        assert.deepEqual(await tfjsDecoded(spec, encoded.bytes), testCase.decoded);
      });
    }
  }

  test('zero is reconstructed exactly whenever the range covers it', () => {
    const grid = tfjsAffineGrid(255);
    for (const values of [[-0.3, 0.2, 1.7], [-5, 0.001], [-1e-3, 7]]) {
      const parameters = grid.parameters(Float32Array.from(values));
      assert.equal(grid.decode(grid.encode(0, parameters), parameters), 0, JSON.stringify(values));
    }
  });

  test('rounding is NumPy\'s: halves to the even neighbour', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfToEven), [0, 2, 2, 0, -2, 2, 3]);
  });
});

describe('float16 storage', () => {
  test('nearest half, ties to even, stored little endian; tfjs decodes it', async () => {
    // 1+2^-11 and 1+3*2^-11 are halfway between two halves: ties go to the even mantissa.
    const values = [1, -2, 0.1, 65504, 1.00048828125, 1.00146484375, 2 ** -24, 0];
    const halves = [0x3c00, 0xc000, 0x2e66, 0x7bff, 0x3c00, 0x3c02, 0x0001, 0x0000];
    const encoded = TFJS_WEIGHT_STORAGE.float16.encode(Float32Array.from(values), weightAlgorithm('rtn'), 'w');
    assert.deepEqual(encoded.quantization, { dtype: 'float16', original_dtype: 'float32' });
    assert.deepEqual(Array.from(encoded.bytes), littleEndianUint16(halves));
    const spec: TfjsWeightSpec = { name: 'w', shape: [values.length], dtype: 'float32', quantization: encoded.quantization };
    const decoded = [1, -2, 0.0999755859375, 65504, 1, 1.001953125, 2 ** -24, 0];
    assert.deepEqual(Array.from(decodeTfjsWeight(spec, encoded.bytes) as Float32Array), decoded);
    assert.deepEqual(await tfjsDecoded(spec, encoded.bytes), decoded);
  });

  test('a value beyond float16 range is refused, naming the weight', () => {
    assert.throws(
      () => TFJS_WEIGHT_STORAGE.float16.encode(Float32Array.from([1, 65520]), weightAlgorithm('rtn'), 'dense/kernel'),
      (error: Error) => error instanceof ModelpressError && /"dense\/kernel".*65520.*float16/.test(error.message),
    );
  });
});

/** A model on disk with hand-chosen weights in two manifest groups; its topology is never run. */
async function writeHandModel(folder: string): Promise<string> {
  const entries: TfjsWeightEntry[] = [
    { spec: { name: 'conv/1/kernel', shape: [5], dtype: 'float32' }, bytes: float32Bytes(UINT8_CASES[0]!.values), manifestGroup: 0 },
    { spec: { name: 'conv/2/kernel', shape: [2, 2], dtype: 'float32' }, bytes: float32Bytes(UINT8_CASES[1]!.values), manifestGroup: 0 },
    { spec: { name: 'dense/kernel', shape: [3], dtype: 'float32' }, bytes: float32Bytes(UINT8_CASES[3]!.values), manifestGroup: 0 },
    { spec: { name: 'dense/shape', shape: [2], dtype: 'int32' }, bytes: new Uint8Array(new Int32Array([-1, 4]).buffer), manifestGroup: 1 },
    {
      spec: { name: 'embed/table', shape: [2], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.5, original_dtype: 'float32' } },
      bytes: Uint8Array.from([0, 4]),
      manifestGroup: 1,
    },
  ];
  const modelJsonPath = path.join(folder, 'model.json');
  const json: TfjsModelJson = { format: 'graph-model', generatedBy: 'test', convertedBy: null, modelTopology: { node: [] } };
  await saveTfjsModel(modelJsonPath, json, entries);
  return modelJsonPath;
}

async function quantizeToDisk(input: string, output: string, scheme: string, selection?: WeightSelection) {
  const model = await loadTfjsModel(input);
  const result = await quantizeTfjsWeights({ model, options: defaultQuantizeOptions(scheme, selection ? { selection } : {}), log: silentLogger });
  await saveTfjsModel(output, result.modelJson, result.weights, { inputPaths: tfjsModelFiles(model) });
  const json = JSON.parse(await fs.readFile(output, 'utf8')) as TfjsModelJson & { weightsManifest: TfjsManifestGroup[] };
  const groupBytes = await Promise.all(
    json.weightsManifest.map(async (group) => Buffer.concat(await Promise.all(group.paths.map((shard) => fs.readFile(path.join(path.dirname(output), shard)))))),
  );
  return { result, json, groupBytes };
}

describe('quantizeTfjsWeights on a hand-made model', () => {
  test('uint8: the manifest and shard bytes are exactly what tfjs-converter writes', async () => {
    const input = await writeHandModel(path.join(workDir, 'hand-uint8'));
    const { result, json, groupBytes } = await quantizeToDisk(input, path.join(workDir, 'hand-uint8-out', 'model.json'), 'uint8');
    assert.deepEqual(json.weightsManifest, [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'conv/1/kernel', shape: [5], dtype: 'float32', quantization: { dtype: 'uint8', min: -0.25, scale: 0.015625, original_dtype: 'float32' } },
          { name: 'conv/2/kernel', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint8', min: 0.5, scale: 0.015625, original_dtype: 'float32' } },
          { name: 'dense/kernel', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', min: 0.699999988079071, scale: 1, original_dtype: 'float32' } },
        ],
      },
      {
        paths: ['group2-shard1of1.bin'],
        weights: [
          { name: 'dense/shape', shape: [2], dtype: 'int32' },
          { name: 'embed/table', shape: [2], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.5, original_dtype: 'float32' } },
        ],
      },
    ]);
    // Written as the converter's JSON writes it: key order name, shape, dtype, quantization{dtype, min, scale, original_dtype}.
    const text = await fs.readFile(path.join(workDir, 'hand-uint8-out', 'model.json'), 'utf8');
    assert.ok(text.includes('{"name":"conv/1/kernel","shape":[5],"dtype":"float32","quantization":{"dtype":"uint8","min":-0.25,"scale":0.015625,"original_dtype":"float32"}}'));
    assert.deepEqual(Array.from(groupBytes[0]!), [0, 16, 22, 254, 0, 0, 32, 255, 96, 0, 0, 0]);
    assert.deepEqual(Array.from(groupBytes[1]!), [0xff, 0xff, 0xff, 0xff, 4, 0, 0, 0, 0, 4], 'int32 and already-quantized bytes unchanged');

    assert.deepEqual(
      result.decisions.map(({ weight, action, reason, storage, elements, bytesBefore, bytesAfter }) => ({ weight, action, reason, storage, elements, bytesBefore, bytesAfter })),
      [
        { weight: 'conv/1/kernel', action: 'quantized', reason: undefined, storage: 'uint8 affine per tensor', elements: 5, bytesBefore: 20, bytesAfter: 5 },
        { weight: 'conv/2/kernel', action: 'quantized', reason: undefined, storage: 'uint8 affine per tensor', elements: 4, bytesBefore: 16, bytesAfter: 4 },
        { weight: 'dense/kernel', action: 'quantized', reason: undefined, storage: 'uint8 affine per tensor', elements: 3, bytesBefore: 12, bytesAfter: 3 },
        { weight: 'dense/shape', action: 'skipped', reason: 'int32, not float32 (tfjs quantizes float32 weights only)', storage: undefined, elements: 2, bytesBefore: 8, bytesAfter: 8 },
        { weight: 'embed/table', action: 'skipped', reason: 'already stored as uint8', storage: undefined, elements: 2, bytesBefore: 2, bytesAfter: 2 },
      ],
    );
    assert.deepEqual(result.decisions[0]!.detail, { min: -0.25, scale: 0.015625 }, 'the range is reported once the weight streamed');
    assert.ok(result.notes.includes(TFJS_DEQUANTIZES_ON_LOAD_NOTE));
    assert.match(TFJS_DEQUANTIZES_ON_LOAD_NOTE, /float32 when the model loads.*smaller.*same.*#6551/);
  });

  test('uint16 and float16 (scheme fp16 and its alias float16) write their own storage', async () => {
    const input = await writeHandModel(path.join(workDir, 'hand-16'));
    const uint16 = await quantizeToDisk(input, path.join(workDir, 'hand-16-uint16', 'model.json'), 'uint16');
    assert.deepEqual(uint16.json.weightsManifest[0]!.weights[1]!.quantization, { dtype: 'uint16', min: 0.5, scale: 3.984375 / 65535, original_dtype: 'float32' });
    assert.equal(uint16.groupBytes[0]!.length, 2 * (5 + 4 + 3));
    for (const scheme of ['fp16', 'float16']) {
      const half = await quantizeToDisk(input, path.join(workDir, `hand-16-${scheme}`, 'model.json'), scheme);
      assert.deepEqual(
        half.json.weightsManifest[0]!.weights.map((spec) => spec.quantization),
        [0, 1, 2].map(() => ({ dtype: 'float16', original_dtype: 'float32' })),
      );
      // 0.5, 1, 4.484375, 2.0078125 as halves: 0x3800, 0x3c00, 0x447c, 0x4004.
      assert.deepEqual(Array.from(half.groupBytes[0]!.subarray(10, 18)), littleEndianUint16([0x3800, 0x3c00, 0x447c, 0x4004]));
      assert.deepEqual(half.result.decisions.map((decision) => decision.bytesAfter), [10, 8, 6, 8, 2]);
    }
  });

  test('--include / --exclude globs select weights by name', async () => {
    const input = await writeHandModel(path.join(workDir, 'hand-globs'));
    const selection = new WeightSelection({ include: ['conv/*/kernel'], exclude: ['conv/2/*'], minSize: 0 });
    const { result, json } = await quantizeToDisk(input, path.join(workDir, 'hand-globs-out', 'model.json'), 'uint8', selection);
    assert.deepEqual(
      result.decisions.map((decision) => [decision.weight, decision.action, decision.reason]),
      [
        ['conv/1/kernel', 'quantized', undefined],
        ['conv/2/kernel', 'skipped', 'excluded by --exclude'],
        ['dense/kernel', 'skipped', 'not matched by --include'],
        ['dense/shape', 'skipped', 'int32, not float32 (tfjs quantizes float32 weights only)'],
        ['embed/table', 'skipped', 'already stored as uint8'],
      ],
    );
    assert.deepEqual(json.weightsManifest[0]!.weights.map((spec) => spec.quantization?.dtype), ['uint8', undefined, undefined]);
    const minSize = new WeightSelection({ include: [], exclude: [], minSize: 4 });
    const sized = await quantizeToDisk(input, path.join(workDir, 'hand-globs-min-size', 'model.json'), 'uint8', minSize);
    assert.equal(sized.result.decisions[2]!.reason, 'smaller than --min-size 4');
  });

  test('weights are read only as the save consumes them, one at a time', async () => {
    const input = await writeHandModel(path.join(workDir, 'hand-lazy'));
    const model = await loadTfjsModel(input);
    const result = await quantizeTfjsWeights({ model, options: defaultQuantizeOptions('uint8'), log: silentLogger });
    const stream = (result.weights as AsyncIterable<TfjsWeightEntry>)[Symbol.asyncIterator]();
    const first = await stream.next();
    assert.equal(first.value.spec.name, 'conv/1/kernel');
    // Change the second weight on disk after the first was handed over: the stream must pick up the change.
    const shard = path.join(path.dirname(input), 'group1-shard1of1.bin');
    const bytes = await fs.readFile(shard);
    bytes.set(float32Bytes([0.5, 0.5, 0.5, 0.5]), 20);
    await fs.writeFile(shard, bytes);
    const second = await stream.next();
    assert.deepEqual(second.value.spec.quantization, { dtype: 'uint8', min: 0.5, scale: 1, original_dtype: 'float32' });
  });

  test('a NaN weight is refused with its name; an unknown scheme is a usage error', async () => {
    const folder = path.join(workDir, 'hand-nan');
    const modelJsonPath = path.join(folder, 'model.json');
    await saveTfjsModel(modelJsonPath, { format: 'graph-model', modelTopology: { node: [] } }, [
      { spec: { name: 'bad/kernel', shape: [2], dtype: 'float32' }, bytes: float32Bytes([1, Number.NaN]) },
    ]);
    await assert.rejects(
      quantizeToDisk(modelJsonPath, path.join(workDir, 'hand-nan-out', 'model.json'), 'uint8'),
      (error: Error) => error instanceof ModelpressError && /"bad\/kernel" holds NaN/.test(error.message),
    );
    await assert.rejects(fs.stat(path.join(workDir, 'hand-nan-out', 'model.json')), 'nothing is written');
    const model = await loadTfjsModel(modelJsonPath);
    await assert.rejects(quantizeTfjsWeights({ model, options: defaultQuantizeOptions('int4'), log: silentLogger }), UsageError);
  });
});
