import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildTfjsFixtures } from '../fixtures/tfjs/build-tfjs-fixtures.js';
import { ModelpressError } from '../src/errors.js';
import { loadTfjsModel, readTfjsWeightBytes, streamTfjsWeights, tfjsModelFiles, type TfjsWeightEntry } from '../src/tfjs/load-tfjs-model.js';
import type { TfjsModelJson } from '../src/tfjs/model-json.js';
import { saveTfjsModel, shardFileName, TFJS_CONVERTER_SHARD_BYTES } from '../src/tfjs/save-tfjs-model.js';

let workDir: string;
let fixtures: string;

before(async () => {
  await tf.setBackend('cpu');
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-tfjs-sharding-'));
  fixtures = path.join(workDir, 'fixtures');
  await buildTfjsFixtures(fixtures);
});

after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

const FOUR_MIB = 4 * 1024 * 1024;

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** A graph model y = x W + b whose kernel alone is larger than one 4 MiB shard. */
function denseGraph(inputs: number, units: number): TfjsModelJson {
  const dims = (shape: number[]) => ({ dim: shape.map((size) => ({ size: String(size) })) });
  const constant = (name: string, shape: number[]) => ({
    name,
    op: 'Const',
    attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(shape) } }, dtype: { type: 'DT_FLOAT' } },
  });
  return {
    format: 'graph-model',
    generatedBy: 'tfjs-sharding.test.ts',
    convertedBy: null,
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dims([-1, inputs]) } } },
        constant('w', [inputs, units]),
        constant('b', [units]),
        { name: 'xw', op: 'MatMul', input: ['x', 'w'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
        { name: 'y', op: 'BiasAdd', input: ['xw', 'b'], attr: { T: { type: 'DT_FLOAT' }, data_format: { s: Buffer.from('NHWC').toString('base64') } } },
      ],
      versions: {},
    },
  };
}

describe('sharding as tfjs-converter does it', () => {
  test('the default shard size is 4 MiB', () => {
    assert.equal(TFJS_CONVERTER_SHARD_BYTES, FOUR_MIB);
    assert.equal(shardFileName(0, 2, 3), 'group1-shard3of3.bin');
  });

  test('a weight over 4 MiB is cut into 4 MiB shards that tfjs reads back as one tensor', async () => {
    const inputs = 1024;
    const units = 1100;
    const kernel = Float32Array.from({ length: inputs * units }, (_, index) => ((index * 7919) % 1000) / 1000 - 0.5);
    const bias = Float32Array.from({ length: units }, (_, index) => index / units);
    assert.ok(kernel.byteLength > FOUR_MIB);
    const output = path.join(workDir, 'large', 'model.json');
    const saved = await saveTfjsModel(output, denseGraph(inputs, units), [
      { spec: { name: 'w', shape: [inputs, units], dtype: 'float32' }, bytes: bytesOf(kernel) },
      { spec: { name: 'b', shape: [units], dtype: 'float32' }, bytes: bytesOf(bias) },
    ]);

    const totalBytes = kernel.byteLength + bias.byteLength;
    const json = JSON.parse(await fs.readFile(output, 'utf8'));
    assert.deepEqual(json.weightsManifest[0].paths, ['group1-shard1of2.bin', 'group1-shard2of2.bin']);
    assert.deepEqual(saved.shardFiles, json.weightsManifest[0].paths.map((name: string) => path.join(path.dirname(output), name)));
    const sizes = await Promise.all(saved.shardFiles.map(async (file) => (await fs.stat(file)).size));
    assert.deepEqual(sizes, [FOUR_MIB, totalBytes - FOUR_MIB]);

    const model = await loadTfjsModel(output);
    const weight = model.weights.find((candidate) => candidate.spec.name === 'w')!;
    assert.ok(Buffer.from(await readTfjsWeightBytes(model, weight)).equals(Buffer.from(bytesOf(kernel))), 'kernel read back across shards');

    const shards = Buffer.concat(await Promise.all(saved.shardFiles.map((file) => fs.readFile(file))));
    const weightData = shards.buffer.slice(shards.byteOffset, shards.byteOffset + shards.byteLength) as ArrayBuffer;
    const graph = await tf.loadGraphModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: tf.io.getWeightSpecs(json.weightsManifest), weightData }),
    );
    const x = tf.tensor2d(Float32Array.from({ length: 2 * inputs }, (_, index) => Math.cos(index)), [2, inputs]);
    const expected = tf.add(tf.matMul(x, tf.tensor2d(kernel, [inputs, units])), tf.tensor1d(bias));
    const actual = graph.predict(x) as tf.Tensor;
    const difference = tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]!;
    graph.dispose();
    tf.dispose([x, expected, actual]);
    assert.ok(difference < 1e-4, `graph output differs from x W + b by ${difference}`);
  });

  test('a custom shard size cuts the byte stream regardless of weight boundaries', async () => {
    const model = await loadTfjsModel(path.join(fixtures, 'tfjs-layers-mlp', 'model.json'));
    const totalBytes = model.weights.reduce((sum, weight) => sum + weight.byteLength, 0);
    assert.equal(totalBytes, 848);
    const output = path.join(workDir, 'small-shards', 'model.json');
    const saved = await saveTfjsModel(output, model.json, streamTfjsWeights(model), { shardBytes: 100, inputPaths: tfjsModelFiles(model) });
    assert.deepEqual(
      saved.weightsManifest[0]!.paths,
      Array.from({ length: 9 }, (_, index) => `group1-shard${index + 1}of9.bin`),
    );
    const sizes = await Promise.all(saved.shardFiles.map(async (file) => (await fs.stat(file)).size));
    assert.deepEqual(sizes, [100, 100, 100, 100, 100, 100, 100, 100, 48]);
  });

  test('a stream that fills its last shard exactly makes no empty extra shard', async () => {
    const output = path.join(workDir, 'exact', 'model.json');
    const saved = await saveTfjsModel(output, denseGraph(4, 4), [
      { spec: { name: 'w', shape: [4, 4], dtype: 'float32' }, bytes: new Uint8Array(64) },
      { spec: { name: 'b', shape: [4], dtype: 'float32' }, bytes: new Uint8Array(16) },
    ], { shardBytes: 40 });
    assert.deepEqual(saved.weightsManifest[0]!.paths, ['group1-shard1of2.bin', 'group1-shard2of2.bin']);
  });

  test('each manifest group gets its own numbered shard files', async () => {
    const model = await loadTfjsModel(path.join(fixtures, 'tfjs-graph-mlp', 'model.json'));
    assert.deepEqual(model.json.weightsManifest!.map((group) => group.paths), [['group1-shard1of1.bin'], ['group2-shard1of1.bin']]);
  });

  test('weights that go back to an earlier group are refused, and nothing is written', async () => {
    const folder = path.join(workDir, 'out-of-order');
    const entries: TfjsWeightEntry[] = [
      { spec: { name: 'a', shape: [1], dtype: 'float32' }, bytes: new Uint8Array(4), manifestGroup: 1 },
      { spec: { name: 'b', shape: [1], dtype: 'float32' }, bytes: new Uint8Array(4), manifestGroup: 0 },
    ];
    await assert.rejects(
      saveTfjsModel(path.join(folder, 'model.json'), denseGraph(1, 1), entries),
      (error: unknown) => error instanceof ModelpressError && /"b" of manifest group 1 came after group 2/.test(error.message),
    );
    assert.deepEqual(await fs.readdir(folder), []);
  });
});
