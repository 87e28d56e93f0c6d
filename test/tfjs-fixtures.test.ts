import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildTfjsFixtures, TFJS_FIXTURE_NAMES } from '../fixtures/tfjs/build-tfjs-fixtures.js';

let workDir: string;

before(async () => {
  await tf.setBackend('cpu');
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-tfjs-fixtures-'));
  await buildTfjsFixtures(path.join(workDir, 'first'));
  await buildTfjsFixtures(path.join(workDir, 'second'));
});

after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await fs.readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(folder, path.join(entry.parentPath, entry.name))).sort();
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

/** Half -> number by the textbook formula, independent of modelpress's bit-level decoder. */
function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Every weight of the graph fixture decoded here, with DataView and the tfjs formulas. */
async function graphFixtureWeights(folder: string): Promise<Map<string, number[]>> {
  const json = JSON.parse(await fs.readFile(path.join(folder, 'model.json'), 'utf8'));
  const weights = new Map<string, number[]>();
  for (const group of json.weightsManifest as Array<{ paths: string[]; weights: ManifestWeight[] }>) {
    const stream = Buffer.concat(await Promise.all(group.paths.map((shard) => fs.readFile(path.join(folder, shard)))));
    const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
    let offset = 0;
    for (const weight of group.weights) {
      const count = weight.shape.reduce((product, size) => product * size, 1);
      const values: number[] = [];
      const stored = weight.quantization?.dtype ?? weight.dtype;
      for (let index = 0; index < count; index++) {
        if (stored === 'uint8') values.push(view.getUint8(offset + index) * weight.quantization!.scale! + weight.quantization!.min!);
        else if (stored === 'uint16') values.push(view.getUint16(offset + 2 * index, true) * weight.quantization!.scale! + weight.quantization!.min!);
        else if (stored === 'float16') values.push(halfValue(view.getUint16(offset + 2 * index, true)));
        else if (stored === 'float32') values.push(view.getFloat32(offset + 4 * index, true));
        else if (stored === 'int32') values.push(view.getInt32(offset + 4 * index, true));
        else throw new Error(`unexpected stored dtype ${stored}`);
      }
      offset += count * ({ uint8: 1, uint16: 2, float16: 2, float32: 4, int32: 4 } as Record<string, number>)[stored]!;
      weights.set(weight.name, values);
    }
  }
  return weights;
}

/** softmax(relu(x W1 + b1) W2 + b2), in plain JS. */
function referenceForward(x: number[][], weights: Map<string, number[]>): number[][] {
  const dense = (input: number[], kernel: number[], bias: number[]): number[] =>
    bias.map((b, unit) => input.reduce((sum, value, row) => sum + value * kernel[row * bias.length + unit]!, b));
  return x.map((row) => {
    const hidden = dense(row, weights.get('hidden/kernel')!, weights.get('hidden/bias')!).map((value) => Math.max(0, value));
    const logits = dense(hidden, weights.get('output/kernel')!, weights.get('output/bias')!);
    const largest = Math.max(...logits);
    const exps = logits.map((value) => Math.exp(value - largest));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((value) => value / total);
  });
}

describe('TF.js fixtures', () => {
  test('two builds are byte-identical', async () => {
    const first = path.join(workDir, 'first');
    const second = path.join(workDir, 'second');
    const files = await filesUnder(first);
    assert.deepEqual(files, await filesUnder(second));
    for (const name of TFJS_FIXTURE_NAMES) assert.ok(files.includes(path.join(name, 'model.json')), name);
    for (const file of files) {
      assert.ok((await fs.readFile(path.join(first, file))).equals(await fs.readFile(path.join(second, file))), file);
    }
  });

  test('the layers fixtures have several shards', async () => {
    for (const name of ['tfjs-layers-mlp', 'tfjs-layers-cnn']) {
      const json = JSON.parse(await fs.readFile(path.join(workDir, 'first', name, 'model.json'), 'utf8'));
      assert.equal(json.format, 'layers-model');
      assert.ok(json.weightsManifest[0].paths.length >= 2, name);
    }
  });

  test('the graph fixture stores uint8, uint16 and float16 quantized weights', async () => {
    const json = JSON.parse(await fs.readFile(path.join(workDir, 'first', 'tfjs-graph-mlp', 'model.json'), 'utf8'));
    const quantizations = (json.weightsManifest as Array<{ weights: ManifestWeight[] }>)
      .flatMap((group) => group.weights)
      .map((weight) => weight.quantization?.dtype ?? null);
    assert.deepEqual(quantizations, ['uint8', null, 'float16', 'uint16', null]);
  });

  test('tf.loadGraphModel runs the graph fixture and agrees with a plain-JS forward pass', async () => {
    const folder = path.join(workDir, 'first', 'tfjs-graph-mlp');
    const json = JSON.parse(await fs.readFile(path.join(folder, 'model.json'), 'utf8'));
    const shards = Buffer.concat(
      await Promise.all(json.weightsManifest.flatMap((group: { paths: string[] }) => group.paths).map((shard: string) => fs.readFile(path.join(folder, shard)))),
    );
    const model = await tf.loadGraphModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: tf.io.getWeightSpecs(json.weightsManifest),
        weightData: shards.buffer.slice(shards.byteOffset, shards.byteOffset + shards.byteLength) as ArrayBuffer,
      }),
    );
    const x = [
      [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8],
      [1, 0.5, 0, -0.5, -1, 2, -2, 0.25],
    ];
    const output = model.predict(tf.tensor2d(x)) as tf.Tensor;
    assert.deepEqual(output.shape, [2, 4]);
    const actual = (await output.array()) as number[][];
    const expected = referenceForward(x, await graphFixtureWeights(folder));
    actual.flat().forEach((value, index) => assert.ok(Math.abs(value - expected.flat()[index]!) < 1e-5, `output ${index}: ${value} vs ${expected.flat()[index]}`));
    model.dispose();
  });
});
