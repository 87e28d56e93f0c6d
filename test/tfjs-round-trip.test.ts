import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildTfjsFixtures } from '../fixtures/tfjs/build-tfjs-fixtures.js';
import { FormatError } from '../src/errors.js';
import { decodeTfjsWeight } from '../src/tfjs/decode-weight.js';
import { floatToHalfBits } from '../src/numeric/float16.js';
import {
  loadTfjsModel,
  readTfjsWeightBytes,
  streamTfjsWeights,
  tfjsModelFiles,
  type TfjsWeightEntry,
} from '../src/tfjs/load-tfjs-model.js';
import { saveTfjsModel } from '../src/tfjs/save-tfjs-model.js';
import { nodeModules } from './support/repo-paths.js';

const upscalerModel = path.join(nodeModules, '@upscalerjs', 'default-model', 'models', 'model.json');
let workDir: string;
let fixtures: string;

before(async () => {
  await tf.setBackend('cpu');
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-tfjs-round-trip-'));
  fixtures = path.join(workDir, 'fixtures');
  await buildTfjsFixtures(fixtures);
});

after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

interface ModelJsonOnDisk {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string }> }>;
  [field: string]: unknown;
}

async function readJson(file: string): Promise<ModelJsonOnDisk> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as ModelJsonOnDisk;
}

/** Each manifest group's bytes: its shard files concatenated, read without modelpress. */
async function groupBytesOnDisk(modelJsonPath: string): Promise<Buffer[]> {
  const json = await readJson(modelJsonPath);
  const folder = path.dirname(modelJsonPath);
  return Promise.all(
    json.weightsManifest.map(async (group) => Buffer.concat(await Promise.all(group.paths.map((shard) => fs.readFile(path.join(folder, shard)))))),
  );
}

/** A tfjs IOHandler reading the files plainly, as tfjs's own file/http handlers do. */
async function plainFileHandler(modelJsonPath: string): Promise<tf.io.IOHandler> {
  const json = (await readJson(modelJsonPath)) as unknown as tf.io.ModelJSON;
  const all = Buffer.concat(await groupBytesOnDisk(modelJsonPath));
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return { load: () => tf.io.getModelArtifactsForJSON(json, async (manifest) => [tf.io.getWeightSpecs(manifest), weightData]) };
}

async function predict(modelJsonPath: string, input: tf.Tensor): Promise<Float32Array> {
  const json = await readJson(modelJsonPath);
  const handler = await plainFileHandler(modelJsonPath);
  const model = json.format === 'graph-model' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  const output = model.predict(input) as tf.Tensor;
  const values = (await output.data()) as Float32Array;
  output.dispose();
  return values;
}

async function roundTrip(modelJsonPath: string, outputFolder: string): Promise<string> {
  const model = await loadTfjsModel(modelJsonPath);
  const output = path.join(outputFolder, 'model.json');
  await saveTfjsModel(output, model.json, streamTfjsWeights(model), { inputPaths: tfjsModelFiles(model) });
  return output;
}

function seededInput(shape: number[]): tf.Tensor {
  const count = shape.reduce((product, size) => product * size, 1);
  return tf.tensor(Float32Array.from({ length: count }, (_, index) => Math.sin(index * 12.9898) * 0.5 + 0.5), shape);
}

const cases = [
  { name: 'tfjs-layers-mlp', file: () => path.join(fixtures, 'tfjs-layers-mlp', 'model.json'), inputShape: [3, 8] },
  { name: 'tfjs-layers-cnn', file: () => path.join(fixtures, 'tfjs-layers-cnn', 'model.json'), inputShape: [2, 6, 6, 1] },
  { name: 'tfjs-graph-mlp (quantized, two groups)', file: () => path.join(fixtures, 'tfjs-graph-mlp', 'model.json'), inputShape: [3, 8] },
  { name: '@upscalerjs/default-model (real Keras-converted model)', file: () => upscalerModel, inputShape: [1, 6, 6, 3] },
];

describe('load -> save keeps a TF.js model lossless', () => {
  for (const [index, testCase] of cases.entries()) {
    test(`${testCase.name}: topology, fields, weight specs, order and bytes are unchanged`, async () => {
      const input = testCase.file();
      const output = await roundTrip(input, path.join(workDir, `round-trip-${index}`));
      const before = await readJson(input);
      const saved = await readJson(output);
      assert.deepEqual(Object.keys(saved), Object.keys(before), 'same top-level fields in the same order');
      for (const field of Object.keys(before)) {
        if (field !== 'weightsManifest') assert.deepEqual(saved[field], before[field], `field ${field}`);
      }
      assert.equal(saved.weightsManifest.length, before.weightsManifest.length);
      saved.weightsManifest.forEach((group, groupIndex) => {
        assert.deepEqual(group.weights, before.weightsManifest[groupIndex]!.weights, `group ${groupIndex + 1} weight specs`);
      });
      const bytesBefore = await groupBytesOnDisk(input);
      const bytesAfter = await groupBytesOnDisk(output);
      assert.equal(bytesAfter.length, bytesBefore.length);
      bytesAfter.forEach((bytes, groupIndex) => assert.ok(bytes.equals(bytesBefore[groupIndex]!), `group ${groupIndex + 1} bytes`));
    });

    test(`${testCase.name}: tfjs loads the saved model and predicts exactly as the original`, async () => {
      const input = testCase.file();
      const output = await roundTrip(input, path.join(workDir, `predict-${index}`));
      const x = seededInput(testCase.inputShape);
      const expected = await predict(input, x);
      const actual = await predict(output, x);
      x.dispose();
      assert.ok(expected.length > 0);
      assert.ok(expected.every(Number.isFinite), 'the original gives finite outputs');
      assert.deepEqual(actual, expected);
    });
  }
});

describe('lazy weight reading', () => {
  test('one weight is read alone, also when it straddles a shard boundary', async () => {
    const modelJsonPath = path.join(fixtures, 'tfjs-layers-mlp', 'model.json');
    const model = await loadTfjsModel(modelJsonPath);
    const [stream] = await groupBytesOnDisk(modelJsonPath);
    const shardEnds = model.shards.map((shard) => shard.groupOffset + shard.bytes);
    const straddling = model.weights.filter((weight) =>
      shardEnds.some((end) => weight.groupOffset < end && end < weight.groupOffset + weight.byteLength),
    );
    assert.ok(straddling.length > 0, 'the fixture has a weight across shards');
    for (const weight of model.weights) {
      const bytes = await readTfjsWeightBytes(model, weight);
      assert.ok(Buffer.from(bytes).equals(stream!.subarray(weight.groupOffset, weight.groupOffset + weight.byteLength)), weight.spec.name);
    }
    assert.deepEqual(
      model.weights.map((weight) => weight.spec.name),
      ['hidden/kernel', 'hidden/bias', 'probabilities/kernel', 'probabilities/bias'],
    );
  });

  test('weights of the second manifest group are addressed within their own group', async () => {
    const modelJsonPath = path.join(fixtures, 'tfjs-graph-mlp', 'model.json');
    const model = await loadTfjsModel(modelJsonPath);
    const shape = model.weights.find((weight) => weight.spec.name === 'output/shape')!;
    assert.equal(shape.manifestGroup, 1);
    assert.deepEqual(Array.from(decodeTfjsWeight(shape.spec, await readTfjsWeightBytes(model, shape)) as Int32Array), [-1, 4]);
  });
});

describe('model.json fields', () => {
  test('fields modelpress does not know are carried through unchanged', async () => {
    const folder = path.join(workDir, 'extra-fields');
    await fs.cp(path.join(fixtures, 'tfjs-graph-mlp'), folder, { recursive: true });
    const modelJsonPath = path.join(folder, 'model.json');
    const json = await readJson(modelJsonPath);
    const extra = {
      modelInitializer: { node: [{ name: 'init', op: 'NoOp' }] },
      initializerSignature: { outputs: {} },
      trainingConfig: { loss: 'categorical_crossentropy', optimizer_config: { class_name: 'Adam', config: {} } },
      someFutureField: [1, 'two', { three: null }],
    };
    await fs.writeFile(modelJsonPath, JSON.stringify({ ...json, ...extra }));
    const output = await roundTrip(modelJsonPath, path.join(workDir, 'extra-fields-out'));
    const saved = await readJson(output);
    for (const [field, value] of Object.entries(extra)) assert.deepEqual(saved[field], value, field);
    assert.deepEqual(saved.signature, json.signature);
    assert.deepEqual(saved.userDefinedMetadata, json.userDefinedMetadata);
  });

  test('models without "format" are recognised by their topology and saved without one', async () => {
    for (const [fixture, kind] of [['tfjs-graph-mlp', 'graph-model'], ['tfjs-layers-mlp', 'layers-model']] as const) {
      const folder = path.join(workDir, `no-format-${fixture}`);
      await fs.cp(path.join(fixtures, fixture), folder, { recursive: true });
      const modelJsonPath = path.join(folder, 'model.json');
      const { format, ...withoutFormat } = await readJson(modelJsonPath);
      assert.equal(format, kind);
      await fs.writeFile(modelJsonPath, JSON.stringify(withoutFormat));
      assert.equal((await loadTfjsModel(modelJsonPath)).kind, kind);
      const saved = await readJson(await roundTrip(modelJsonPath, path.join(workDir, `no-format-${fixture}-out`)));
      assert.ok(!('format' in saved));
    }
  });
});

describe('streaming rewrite', () => {
  test('a pass can replace one tensor while the others stream through untouched', async () => {
    const input = path.join(fixtures, 'tfjs-layers-mlp', 'model.json');
    const model = await loadTfjsModel(input);
    async function* halfPrecisionKernel(): AsyncGenerator<TfjsWeightEntry> {
      for await (const entry of streamTfjsWeights(model)) {
        if (entry.spec.name !== 'hidden/kernel') {
          yield entry;
          continue;
        }
        const values = decodeTfjsWeight(entry.spec, entry.bytes) as Float32Array;
        const halves = Uint16Array.from(values, floatToHalfBits);
        yield { spec: { ...entry.spec, quantization: { dtype: 'float16' } }, bytes: new Uint8Array(halves.buffer) };
      }
    }
    const output = path.join(workDir, 'rewrite', 'model.json');
    await saveTfjsModel(output, model.json, halfPrecisionKernel(), { inputPaths: tfjsModelFiles(model) });
    const saved = await loadTfjsModel(output);
    const kernel = saved.weights.find((weight) => weight.spec.name === 'hidden/kernel')!;
    assert.equal(kernel.byteLength, 8 * 16 * 2);
    assert.deepEqual(kernel.spec.quantization, { dtype: 'float16' });
    const x = seededInput([4, 8]);
    const expected = await predict(input, x);
    const actual = await predict(output, x);
    x.dispose();
    assert.notDeepEqual(actual, expected, 'the kernel did change');
    actual.forEach((value, index) => assert.ok(Math.abs(value - expected[index]!) < 1e-3, `output ${index}`));
  });
});

describe('string weights', () => {
  const words = ['a', 'bcd', '', 'héllo wörld'];
  function encodedStrings(): Uint8Array {
    return new Uint8Array(Buffer.concat(words.flatMap((word) => {
      const bytes = Buffer.from(word, 'utf8');
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32LE(bytes.length);
      return [prefix, bytes];
    })));
  }
  const graph = { format: 'graph-model', modelTopology: { node: [] } };

  test('are laid out by their length prefixes, across shards, and tfjs decodes them', async () => {
    const strings = encodedStrings();
    const entries: TfjsWeightEntry[] = [
      { spec: { name: 'before', shape: [3], dtype: 'float32' }, bytes: new Uint8Array(Float32Array.from([1, 2, 3]).buffer) },
      { spec: { name: 'vocabulary', shape: [2, 2], dtype: 'string' }, bytes: strings },
      { spec: { name: 'after', shape: [1], dtype: 'int32' }, bytes: new Uint8Array(Int32Array.from([7]).buffer) },
    ];
    const output = path.join(workDir, 'strings', 'model.json');
    const saved = await saveTfjsModel(output, graph, entries, { shardBytes: 5 });
    assert.ok(saved.shardFiles.length > 5);
    const model = await loadTfjsModel(output);
    assert.deepEqual(model.weights.map((weight) => [weight.spec.name, weight.groupOffset, weight.byteLength]), [
      ['before', 0, 12],
      ['vocabulary', 12, strings.length],
      ['after', 12 + strings.length, 4],
    ]);
    const vocabulary = model.weights[1]!;
    const decoded = decodeTfjsWeight(vocabulary.spec, await readTfjsWeightBytes(model, vocabulary)) as Uint8Array[];
    assert.deepEqual(decoded.map((bytes) => Buffer.from(bytes).toString('utf8')), words);

    const [stream] = await groupBytesOnDisk(output);
    const tensors = tf.io.decodeWeights(stream!.buffer.slice(stream!.byteOffset, stream!.byteOffset + stream!.byteLength) as ArrayBuffer, model.weights.map((weight) => weight.spec as tf.io.WeightsManifestEntry));
    assert.deepEqual((tensors.vocabulary!.dataSync() as unknown as Uint8Array[]).map((bytes) => Buffer.from(bytes).toString('utf8')), words);
    assert.deepEqual(Array.from(tensors.after!.dataSync()), [7]);
    tf.dispose(Object.values(tensors));
  });

  test('a length prefix pointing past the end of the shards is a FormatError', async () => {
    const strings = encodedStrings();
    const output = path.join(workDir, 'strings-truncated', 'model.json');
    await saveTfjsModel(output, graph, [{ spec: { name: 'vocabulary', shape: [4], dtype: 'string' }, bytes: strings }]);
    const shard = path.join(path.dirname(output), 'group1-shard1of1.bin');
    await fs.writeFile(shard, (await fs.readFile(shard)).subarray(0, strings.length - 3));
    await assert.rejects(loadTfjsModel(output), (error: unknown) => error instanceof FormatError && error.message.startsWith(`${output}: weight shards of group 1 hold ${strings.length - 3} bytes`));
  });
});
