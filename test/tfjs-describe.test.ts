import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildTfjsFixtures } from '../fixtures/tfjs/build-tfjs-fixtures.js';
import { describeTfjsModel } from '../src/inspect/describe-tfjs.js';
import { loadTfjsModel, tfjsModelFiles, streamTfjsWeights } from '../src/tfjs/load-tfjs-model.js';
import { tfjsModelIOHandler } from '../src/tfjs/tfjs-io-handler.js';
import { saveTfjsModel } from '../src/tfjs/save-tfjs-model.js';
import { nodeModules } from './support/repo-paths.js';

const upscalerModel = path.join(nodeModules, '@upscalerjs', 'default-model', 'models', 'model.json');
let workDir: string;
let fixtures: string;

before(async () => {
  await tf.setBackend('cpu');
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-tfjs-describe-'));
  fixtures = path.join(workDir, 'fixtures');
  await buildTfjsFixtures(fixtures);
});

after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

/** Parameters counted straight from the manifest: the sum over weights of the product of the shape. */
async function manifestParameterCount(modelJsonPath: string): Promise<number> {
  const json = JSON.parse(await fs.readFile(modelJsonPath, 'utf8'));
  let count = 0;
  for (const group of json.weightsManifest) {
    for (const weight of group.weights) count += weight.shape.reduce((product: number, size: number) => product * size, 1);
  }
  return count;
}

async function shardSizesOnDisk(modelJsonPath: string): Promise<Array<{ path: string; bytes: number }>> {
  const json = JSON.parse(await fs.readFile(modelJsonPath, 'utf8'));
  const paths: string[] = json.weightsManifest.flatMap((group: { paths: string[] }) => group.paths);
  return Promise.all(paths.map(async (shard) => ({ path: shard, bytes: (await fs.stat(path.join(path.dirname(modelJsonPath), shard))).size })));
}

async function tfjsLayersParameterCount(modelJsonPath: string): Promise<number> {
  const model = await tf.loadLayersModel(tfjsModelIOHandler(await loadTfjsModel(modelJsonPath)));
  const count = model.countParams();
  model.dispose();
  return count;
}

describe('describeTfjsModel', () => {
  test('graph model: signature inputs/outputs, TF op histogram, parameters by stored dtype, shards', async () => {
    const modelJsonPath = path.join(fixtures, 'tfjs-graph-mlp', 'model.json');
    const description = await describeTfjsModel(modelJsonPath);
    assert.equal(description.path, modelJsonPath);
    assert.equal(description.format, 'tfjs-graph');
    assert.deepEqual(description.formatVersion, {
      format: 'graph-model',
      generatedBy: 'modelpress fixtures/tfjs/build-tfjs-fixtures.ts',
      convertedBy: null,
    });
    assert.deepEqual(description.inputs, [{ name: 'features:0', dtype: 'float32', shape: [null, 8] }]);
    assert.deepEqual(description.outputs, [{ name: 'Identity:0', dtype: 'float32', shape: [null, 4] }]);
    assert.deepEqual(description.operators, { MatMul: 2, BiasAdd: 2, Relu: 1, Softmax: 1, Reshape: 1, Identity: 1 });
    assert.deepEqual(description.parameters.byDtype, {
      uint8: { tensors: 1, parameters: 128, bytes: 128 },
      float32: { tensors: 1, parameters: 16, bytes: 64 },
      float16: { tensors: 1, parameters: 64, bytes: 128 },
      uint16: { tensors: 1, parameters: 4, bytes: 8 },
      int32: { tensors: 1, parameters: 2, bytes: 8 },
    });
    assert.equal(description.parameters.count, await manifestParameterCount(modelJsonPath));
    assert.equal(description.parameters.bytes, 336);
    assert.deepEqual(
      description.largestTensors.map((tensor) => [tensor.name, tensor.dtype, tensor.bytes]),
      [['hidden/kernel', 'uint8', 128], ['output/kernel', 'float16', 128], ['hidden/bias', 'float32', 64], ['output/bias', 'uint16', 8], ['output/shape', 'int32', 8]],
    );
    assert.deepEqual(description.dataFiles, await shardSizesOnDisk(modelJsonPath));
    assert.equal(description.parameters.bytes, description.dataFiles.reduce((sum, file) => sum + file.bytes, 0));
  });

  test('graph model without a signature: Placeholders in, unconsumed nodes out', async () => {
    const folder = path.join(workDir, 'no-signature');
    await fs.cp(path.join(fixtures, 'tfjs-graph-mlp'), folder, { recursive: true });
    const modelJsonPath = path.join(folder, 'model.json');
    const { signature: _signature, ...json } = JSON.parse(await fs.readFile(modelJsonPath, 'utf8'));
    await fs.writeFile(modelJsonPath, JSON.stringify(json));
    const description = await describeTfjsModel(modelJsonPath);
    assert.deepEqual(description.inputs, [{ name: 'features', dtype: 'float32', shape: [null, 8] }]);
    assert.deepEqual(description.outputs, [{ name: 'Identity', dtype: 'float32', shape: null }]);
  });

  test('layers model: input layers, output layers, layer class histogram', async () => {
    const modelJsonPath = path.join(fixtures, 'tfjs-layers-mlp', 'model.json');
    const description = await describeTfjsModel(modelJsonPath);
    assert.equal(description.format, 'tfjs-layers');
    assert.equal(description.formatVersion.format, 'layers-model');
    assert.match(String(description.formatVersion.generatedBy), /^TensorFlow\.js tfjs-layers v/);
    assert.deepEqual(description.inputs, [{ name: 'features', dtype: 'float32', shape: [null, 8] }]);
    assert.deepEqual(description.outputs, [{ name: 'probabilities', dtype: 'float32', shape: null }]);
    assert.deepEqual(description.operators, { Dense: 2 });
    assert.deepEqual(description.parameters, {
      count: 8 * 16 + 16 + 16 * 4 + 4,
      bytes: (8 * 16 + 16 + 16 * 4 + 4) * 4,
      byDtype: { float32: { tensors: 4, parameters: 212, bytes: 848 } },
    });
    assert.equal(description.parameters.count, await tfjsLayersParameterCount(modelJsonPath));
    assert.deepEqual(description.dataFiles, await shardSizesOnDisk(modelJsonPath));
    assert.equal(description.dataFiles.length, 3);
  });

  test('layers model with Conv2D and BatchNormalization counts non-trainable weights too', async () => {
    const modelJsonPath = path.join(fixtures, 'tfjs-layers-cnn', 'model.json');
    const description = await describeTfjsModel(modelJsonPath);
    assert.deepEqual(description.operators, { Conv2D: 1, BatchNormalization: 1, ReLU: 1, Flatten: 1, Dense: 1 });
    assert.deepEqual(description.inputs, [{ name: 'image', dtype: 'float32', shape: [null, 6, 6, 1] }]);
    assert.equal(description.parameters.count, await tfjsLayersParameterCount(modelJsonPath));
    assert.equal(description.parameters.count, await manifestParameterCount(modelJsonPath));
  });

  test('Sequential layers model: first layer in, last layer out', async () => {
    const model = tf.sequential({
      name: 'seq',
      layers: [tf.layers.dense({ units: 3, inputShape: [5], name: 'first' }), tf.layers.dense({ units: 2, name: 'last' })],
    });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (saved) => {
      artifacts = saved;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }));
    const modelJsonPath = path.join(workDir, 'sequential', 'model.json');
    await saveTfjsModel(modelJsonPath, { modelTopology: artifacts!.modelTopology as Record<string, unknown>, format: 'layers-model' }, []);
    const description = await describeTfjsModel(modelJsonPath);
    assert.deepEqual(description.inputs, [{ name: 'first', dtype: 'float32', shape: [null, 5] }]);
    assert.deepEqual(description.outputs, [{ name: 'last', dtype: 'float32', shape: null }]);
    assert.deepEqual(description.operators, { Dense: 2 });
    assert.deepEqual(description.parameters, { count: 0, bytes: 0, byDtype: {} });
    model.dispose();
  });

  test('@upscalerjs/default-model: a real Keras-converted model, counted independently', async () => {
    const description = await describeTfjsModel(upscalerModel);
    assert.equal(description.format, 'tfjs-layers');
    assert.deepEqual(description.formatVersion, {
      format: 'layers-model',
      generatedBy: 'keras v2.10.0',
      convertedBy: 'TensorFlow.js Converter v1.2.6',
    });
    const independent = await manifestParameterCount(upscalerModel);
    assert.equal(description.parameters.count, independent);
    assert.equal(description.parameters.count, await tfjsLayersParameterCount(upscalerModel));
    assert.equal(description.parameters.bytes, independent * 4);
    assert.deepEqual(description.dataFiles, await shardSizesOnDisk(upscalerModel));
    assert.deepEqual(description.inputs, [{ name: 'LR', dtype: 'float32', shape: [null, null, null, 3] }]);
    assert.deepEqual(description.outputs, [{ name: 'SR', dtype: 'float32', shape: null }]);
    assert.equal(description.operators.Conv2D, 12);
    assert.equal(description.largestTensors.length, 10);
    const sizes = description.largestTensors.map((tensor) => tensor.bytes);
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a));
    assert.deepEqual(description.largestTensors[0], { name: 'UPN1/kernel', dtype: 'float32', shape: [5, 5, 64, 64], bytes: 5 * 5 * 64 * 64 * 4 });
  });

  test('a round-tripped copy of a real model describes the same as the original', async () => {
    const model = await loadTfjsModel(upscalerModel);
    const copy = path.join(workDir, 'upscaler-copy', 'model.json');
    await saveTfjsModel(copy, model.json, streamTfjsWeights(model), { inputPaths: tfjsModelFiles(model) });
    const original = await describeTfjsModel(upscalerModel);
    const saved = await describeTfjsModel(copy);
    assert.deepEqual({ ...saved, path: original.path }, original);
  });
});
