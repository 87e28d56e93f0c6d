import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../src/errors.js';
import { defaultQuantizeOptions } from '../src/quantize/quantize-options.js';
import { quantizeTfjsWeights } from '../src/quantize/tfjs/tfjs-weight-quantization.js';
import { silentLogger } from '../src/terminal/logger.js';
import { decodeTfjsWeight } from '../src/tfjs/decode-weight.js';
import { loadTfjsModel, streamTfjsWeights, tfjsModelFiles, type TfjsWeightEntry } from '../src/tfjs/load-tfjs-model.js';
import { saveTfjsModel } from '../src/tfjs/save-tfjs-model.js';
import { openTfjsRunner } from '../src/runners/tfjs-model.js';
import { generateTfjsInputs, tfjsInputShape, verifyTfjsModels } from '../src/verify/verify-tfjs.js';
import { fixturesDir, nodeModules } from './support/repo-paths.js';

const layersMlp = path.join(fixturesDir, 'tfjs-layers-mlp', 'model.json');
const layersCnn = path.join(fixturesDir, 'tfjs-layers-cnn', 'model.json');
const graphMlp = path.join(fixturesDir, 'tfjs-graph-mlp', 'model.json');
const upscaler = path.join(nodeModules, '@upscalerjs', 'default-model', 'models', 'model.json');

let workDir: string;

before(async () => {
  await tf.setBackend('cpu');
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-verify-tfjs-'));
});

after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});


async function quantized(modelJsonPath: string, scheme: string, label: string): Promise<string> {
  const model = await loadTfjsModel(modelJsonPath);
  const result = await quantizeTfjsWeights({ model, options: defaultQuantizeOptions(scheme), log: silentLogger });
  const output = path.join(workDir, label, 'model.json');
  await saveTfjsModel(output, result.modelJson, result.weights, { inputPaths: tfjsModelFiles(model) });
  return output;
}

/** A copy whose `weight` is negated: a rewrite gone wrong that verification must notice. */
async function withNegatedWeight(modelJsonPath: string, weight: string, label: string): Promise<string> {
  const model = await loadTfjsModel(modelJsonPath);
  async function* negated(): AsyncGenerator<TfjsWeightEntry> {
    for await (const entry of streamTfjsWeights(model)) {
      if (entry.spec.name !== weight) {
        yield entry;
        continue;
      }
      const values = (decodeTfjsWeight(entry.spec, entry.bytes) as Float32Array).map((value) => -value);
      yield { ...entry, bytes: new Uint8Array(values.buffer) };
    }
  }
  const output = path.join(workDir, label, 'model.json');
  await saveTfjsModel(output, model.json, negated(), { inputPaths: tfjsModelFiles(model) });
  return output;
}

describe('verifyTfjsModels', () => {
  test('a model against itself: every output identical, on generated inputs', async () => {
    const result = await verifyTfjsModels(layersMlp, layersMlp, { samples: 3, tf });
    assert.equal(result.inputs, 'generated');
    assert.equal(result.samples, 3);
    const [output] = result.outputs;
    assert.equal(result.outputs.length, 1);
    // Same numbers on both sides; cosine is 1 up to the rounding of its square roots.
    assert.deepEqual({ ...output, cosine: undefined }, { output: 'probabilities', cosine: undefined, maxAbsError: 0, meanAbsError: 0, top1Agreement: 1 });
    assert.ok(Math.abs(output!.cosine - 1) < 1e-12);
  });

  test('a quantized LayersModel and GraphModel (signature outputs) are compared output by output', async (t) => {
    for (const [original, scheme, outputName] of [
      [layersCnn, 'uint8', 'classes'],
      [graphMlp, 'uint8', 'probabilities'],
      [layersMlp, 'fp16', 'probabilities'],
    ] as const) {
      const rewritten = await quantized(original, scheme, `${path.basename(path.dirname(original))}-${scheme}`);
      const result = await verifyTfjsModels(original, rewritten, { samples: 2 });
      const [output] = result.outputs;
      t.diagnostic(`${path.basename(path.dirname(original))} ${scheme}: cosine ${output!.cosine}, max |error| ${output!.maxAbsError}`);
      assert.equal(result.outputs.length, 1);
      assert.equal(output!.output, outputName);
      assert.ok(output!.cosine < 1 && output!.maxAbsError > 0, 'the quantized model differs a little');
      assert.ok(output!.cosine > 0.999, `cosine ${output!.cosine}`);
      assert.equal(output!.top1Agreement, 1);
    }
  });

  test('a broken rewrite shows up as a low cosine', async () => {
    const broken = await withNegatedWeight(layersMlp, 'probabilities/kernel', 'mlp-negated');
    const [output] = (await verifyTfjsModels(layersMlp, broken, { samples: 2 })).outputs;
    assert.ok(output!.cosine < 0.99, `cosine ${output!.cosine}`);
    assert.ok(output!.top1Agreement! < 1);
  });

  test('inputs are seeded: two runs give the same numbers', async () => {
    const rewritten = await quantized(layersCnn, 'uint8', 'cnn-uint8-repeat');
    const first = await verifyTfjsModels(layersCnn, rewritten, { samples: 2 });
    const second = await verifyTfjsModels(layersCnn, rewritten, { samples: 2 });
    assert.deepEqual(second, first);
  });

  test('open image dimensions need --shape; with it the real upscaler model verifies', async () => {
    const rewritten = await quantized(upscaler, 'uint8', 'upscaler-uint8');
    // Checked before any rewriting by generateTfjsInputs, and again by verifyTfjsModels itself.
    for (const attempt of [() => generateTfjsInputs(upscaler), () => verifyTfjsModels(upscaler, rewritten)]) {
      await assert.rejects(attempt(), (error: Error) => error instanceof UsageError && /input 'LR' has a symbolic dimension 1 .*--shape LR=1xNxNx3/.test(error.message));
    }
    await assert.rejects(verifyTfjsModels(upscaler, rewritten, { shapes: { LR: [1, 8, 8] } }), /--shape LR=1x8x8 has 3 dimensions, the input has 4/);
    await assert.rejects(verifyTfjsModels(upscaler, rewritten, { shapes: { LR: [1, 8, 8, 4] } }), /sets dimension 3 to 4, the model fixes it at 3/);
    await assert.rejects(verifyTfjsModels(upscaler, rewritten, { shapes: { input: [1, 8, 8, 3] } }), /--shape names 'input', but the model's inputs are 'LR'/);
    const inputs = await generateTfjsInputs(upscaler, { shapes: { LR: [1, 8, 8, 3] }, samples: 1 });
    assert.deepEqual(inputs[0]!.LR!.shape, [1, 8, 8, 3]);
    const result = await verifyTfjsModels(upscaler, rewritten, { inputs });
    assert.equal(result.samples, 1);
    assert.equal(result.outputs[0]!.output, 'SR');
    assert.ok(result.outputs[0]!.cosine > 0.999, `cosine ${result.outputs[0]!.cosine}`);
  });

  test('an open batch dimension is 1; known dimensions are kept', () => {
    assert.deepEqual(tfjsInputShape({ name: 'x', shape: [null, 8], dtype: 'float32' }, {}), [1, 8]);
    assert.deepEqual(tfjsInputShape({ name: 'x', shape: [null, 8], dtype: 'float32' }, { x: [5, 8] }), [5, 8]);
    assert.throws(() => tfjsInputShape({ name: 'x', shape: undefined, dtype: 'float32' }, {}), /input 'x' has no declared shape: pass --shape x=/);
    assert.deepEqual(tfjsInputShape({ name: 'x', shape: undefined, dtype: 'float32' }, { x: [2, 3] }), [2, 3]);
  });
});

describe('TF.js model runner', () => {
  test('loads both model kinds from disk without tfjs-node, and names inputs and outputs', async () => {
    const layers = await openTfjsRunner(layersCnn, tf);
    const graph = await openTfjsRunner(graphMlp, tf);
    try {
      assert.equal(layers.kind, 'layers-model');
      assert.deepEqual(layers.inputs, [{ name: 'image', shape: [null, 6, 6, 1], dtype: 'float32' }]);
      assert.deepEqual(layers.outputNames, ['classes']);
      assert.equal(graph.kind, 'graph-model');
      assert.deepEqual(graph.inputs, [{ name: 'features', shape: [null, 8], dtype: 'float32' }]);
      assert.deepEqual(graph.outputNames, ['probabilities']);
      const tensorsBefore = tf.memory().numTensors;
      const outputs = await graph.run({ features: { dtype: 'float32', shape: [2, 8], values: new Float32Array(16).fill(0.5) } });
      assert.deepEqual(outputs.probabilities!.shape, [2, 4]);
      const sums = [0, 1].map((row) => Array.from(outputs.probabilities!.values.subarray(row * 4, row * 4 + 4)).reduce((sum, value) => sum + value, 0));
      sums.forEach((sum) => assert.ok(Math.abs(sum - 1) < 1e-5, 'softmax rows'));
      assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaks from a run');
    } finally {
      layers.dispose();
      graph.dispose();
    }
  });
});
