import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { defaultQuantizeOptions } from '../src/quantize/quantize-options.js';
import { quantizeTfjsWeights } from '../src/quantize/tfjs/tfjs-weight-quantization.js';
import { silentLogger } from '../src/terminal/logger.js';
import { loadTfjsModel, tfjsModelFiles } from '../src/tfjs/load-tfjs-model.js';
import type { TfjsManifestGroup, TfjsWeightSpec } from '../src/tfjs/model-json.js';
import { saveTfjsModel } from '../src/tfjs/save-tfjs-model.js';
import { compareOutputs } from '../src/verify/output-metrics.js';
import { fixturesDir, nodeModules } from './support/repo-paths.js';

/**
 * Each scheme on the TF.js fixtures and a real converted Keras model: tfjs itself (loadLayersModel /
 * loadGraphModel reading the files plainly, not through modelpress) loads the result and predicts close to
 * the original, and the shards shrink by exactly the storage's ratio.
 */

interface ModelCase {
  name: string;
  modelJson: string;
  inputShape: number[];
}

const MODELS: ModelCase[] = [
  { name: 'tfjs-layers-mlp', modelJson: path.join(fixturesDir, 'tfjs-layers-mlp', 'model.json'), inputShape: [3, 8] },
  { name: 'tfjs-layers-cnn', modelJson: path.join(fixturesDir, 'tfjs-layers-cnn', 'model.json'), inputShape: [2, 6, 6, 1] },
  { name: 'tfjs-graph-mlp', modelJson: path.join(fixturesDir, 'tfjs-graph-mlp', 'model.json'), inputShape: [3, 8] },
  {
    name: '@upscalerjs/default-model',
    modelJson: path.join(nodeModules, '@upscalerjs', 'default-model', 'models', 'model.json'),
    inputShape: [1, 12, 12, 3],
  },
];

/**
 * Least output cosine accepted. float16 keeps 11 significant bits, uint16 spreads 65536 codes over each
 * tensor's range: both should be indistinguishable from float32 at this size. uint8 (256 codes per tensor)
 * is the lossy one; measured ~0.99999 on these models, the bound leaves room without hiding a broken scale.
 */
const SCHEMES = [
  { scheme: 'fp16', storage: 'float16', bytesPerElement: 2, minCosine: 0.99999 },
  { scheme: 'uint16', storage: 'uint16', bytesPerElement: 2, minCosine: 0.9999 },
  { scheme: 'uint8', storage: 'uint8', bytesPerElement: 1, minCosine: 0.999 },
] as const;

let workDir: string;

before(async () => {
  await tf.setBackend('cpu');
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-quantize-tfjs-models-'));
});

after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});


interface ModelOnDisk {
  json: tf.io.ModelJSON & { weightsManifest: TfjsManifestGroup[] };
  jsonBytes: number;
  shardBytes: number;
  weightData: ArrayBuffer;
}

async function readModel(modelJsonPath: string): Promise<ModelOnDisk> {
  const text = await fs.readFile(modelJsonPath, 'utf8');
  const json = JSON.parse(text) as ModelOnDisk['json'];
  const folder = path.dirname(modelJsonPath);
  const shards = await Promise.all(json.weightsManifest.flatMap((group) => group.paths.map((shard) => fs.readFile(path.join(folder, shard)))));
  const all = Buffer.concat(shards);
  return {
    json,
    jsonBytes: Buffer.byteLength(text),
    shardBytes: all.length,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
  };
}

/** tfjs's own loaders, fed the files as tfjs's http/file handlers would. */
async function predict(modelJsonPath: string, input: tf.Tensor): Promise<Float32Array> {
  const { json, weightData } = await readModel(modelJsonPath);
  const handler: tf.io.IOHandler = {
    load: () => tf.io.getModelArtifactsForJSON(json, async (manifest) => [tf.io.getWeightSpecs(manifest), weightData]),
  };
  const model = json.format === 'graph-model' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  const output = model.predict(input) as tf.Tensor;
  const values = (await output.data()) as Float32Array;
  output.dispose();
  model.dispose();
  return values;
}

function seededInput(shape: number[]): tf.Tensor {
  const count = shape.reduce((product, size) => product * size, 1);
  return tf.tensor(Float32Array.from({ length: count }, (_, index) => Math.sin(index * 12.9898) * 0.5 + 0.5), shape);
}

function allSpecs(json: ModelOnDisk['json']): TfjsWeightSpec[] {
  return json.weightsManifest.flatMap((group) => group.weights) as TfjsWeightSpec[];
}

describe('TF.js quantization of real models: tfjs loads them and predicts close to the original', () => {
  for (const [modelIndex, modelCase] of MODELS.entries()) {
    test(modelCase.name, async (t) => {
      const input = seededInput(modelCase.inputShape);
      const original = await readModel(modelCase.modelJson);
      const expected = await predict(modelCase.modelJson, input);
      const originalSpecs = allSpecs(original.json);
      const floatWeights = originalSpecs.filter((spec) => spec.dtype === 'float32' && spec.quantization === undefined);
      assert.ok(floatWeights.length > 0);
      const floatElements = floatWeights.reduce((total, spec) => total + spec.shape.reduce((product, size) => product * size, 1), 0);

      for (const { scheme, storage, bytesPerElement, minCosine } of SCHEMES) {
        const model = await loadTfjsModel(modelCase.modelJson);
        const result = await quantizeTfjsWeights({ model, options: defaultQuantizeOptions(scheme), log: silentLogger });
        const output = path.join(workDir, `${modelIndex}-${scheme}`, 'model.json');
        await saveTfjsModel(output, result.modelJson, result.weights, { inputPaths: tfjsModelFiles(model) });
        const saved = await readModel(output);

        // Manifest: float32 weights gain the converter's quantization entry; all others are kept as they were.
        const savedSpecs = allSpecs(saved.json);
        assert.deepEqual(savedSpecs.map((spec) => spec.name), originalSpecs.map((spec) => spec.name));
        savedSpecs.forEach((spec, index) => {
          const before = originalSpecs[index]!;
          if (before.dtype !== 'float32' || before.quantization !== undefined) {
            assert.deepEqual(spec, before, `${spec.name} is not quantized again`);
            return;
          }
          assert.equal(spec.dtype, 'float32', `${spec.name} keeps its dtype`);
          assert.equal(spec.quantization?.dtype, storage, spec.name);
          assert.equal(spec.quantization?.original_dtype, 'float32', spec.name);
        });
        assert.deepEqual(Object.keys(saved.json).sort(), Object.keys(original.json).sort());
        assert.deepEqual(saved.json.modelTopology, original.json.modelTopology);

        // Sizes: the float32 weights shrink to exactly 2 or 1 bytes per element, the rest stays; the
        // model.json (compared with the original written compactly, as modelpress writes) grows only by the
        // quantization entries, at most ~125 characters each (uint16 with a 17-digit min and scale).
        assert.equal(saved.shardBytes, original.shardBytes - floatElements * (4 - bytesPerElement));
        const reportedAfter = result.decisions.reduce((total, decision) => total + decision.bytesAfter, 0);
        assert.equal(reportedAfter, saved.shardBytes, 'the decisions add up to the shards written');
        const jsonGrowth = saved.jsonBytes - Buffer.byteLength(JSON.stringify(original.json));
        assert.ok(jsonGrowth > 0 && jsonGrowth <= floatWeights.length * 130, `model.json grew by ${jsonGrowth} bytes`);

        const actual = await predict(output, input);
        const error = compareOutputs('output', expected, actual);
        t.diagnostic(
          `${scheme}: cosine ${error.cosine.toFixed(9)} (1 - cosine ${(1 - error.cosine).toExponential(1)}), max |error| ${error.maxAbsError.toExponential(2)}, shards ${original.shardBytes} -> ${saved.shardBytes} bytes, model.json +${jsonGrowth} bytes`,
        );
        assert.ok(actual.every(Number.isFinite), `${scheme}: finite outputs`);
        assert.ok(error.cosine > minCosine, `${scheme}: cosine ${error.cosine} <= ${minCosine}`);
        if (scheme === 'fp16' && original.shardBytes === floatElements * 4) assert.equal(saved.shardBytes * 2, original.shardBytes, 'float16 halves');
        if (scheme === 'uint8' && original.shardBytes === floatElements * 4) assert.equal(saved.shardBytes * 4, original.shardBytes, 'uint8 quarters');
      }
      input.dispose();
    });
  }
});
