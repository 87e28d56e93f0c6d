import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { exportOnnx } from '../src/export/export-model.js';
import { argmaxRows } from '../src/verify/output-metrics.js';
import { saveLayersModel, temporaryFolder, tf, useCpuBackend } from './support/export-layers-harness.js';
import { nodeModules } from './support/repo-paths.js';

/**
 * Real models: the Keras ESRGAN-style upscaler from @upscalerjs/default-model, and a CNN and an LSTM trained
 * here for a few steps on mnist digits; each exports, verifies within 1e-4 relative, and the classifiers
 * keep every prediction.
 */

const UPSCALER = path.join(nodeModules, '@upscalerjs', 'default-model', 'models', 'model.json');
const cpuEngine = async () => ({ tf, name: 'cpu' as const, backend: 'cpu', device: 'cpu' as const });

interface Digits {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/**
 * `perDigit` samples of each digit from `start`, interleaved 0..9, 0..9, ... so that unshuffled batches are
 * balanced (mnist.set would shuffle with Math.random; range's end is inclusive).
 */
function digits(start: number, perDigit: number): Digits {
  const mnist = createRequire(import.meta.url)('mnist') as Array<{ range(start: number, end: number): number[][] }>;
  const byDigit = Array.from({ length: 10 }, (_, digit) => mnist[digit]!.range(start, start + perDigit - 1));
  const images: number[] = [];
  const labels: number[] = [];
  for (let index = 0; index < perDigit; index++) {
    for (let digit = 0; digit < 10; digit++) {
      images.push(...byDigit[digit]![index]!);
      labels.push(digit);
    }
  }
  return { images: Float32Array.from(images), labels: Int32Array.from(labels), count: labels.length };
}

let folder: string;

describe('real models export and verify', () => {
  before(async () => {
    await useCpuBackend();
    folder = await temporaryFolder('export-real');
  });
  after(() => fs.rm(folder, { recursive: true, force: true }));

  test('@upscalerjs/default-model exports with two Transposes and matches tfjs within 1e-4 relative', async () => {
    const output = path.join(folder, 'upscaler.onnx');
    const report = await exportOnnx({
      input: UPSCALER,
      output,
      options: { opset: 17, nchw: false, dynamicBatch: true },
      force: false,
      verify: true,
      tolerance: 1e-4,
      shapes: { LR: [1, 24, 20, 3] },
      engine: cpuEngine,
    });
    const verification = report.verification!;
    assert.equal(verification.passed, true, JSON.stringify(verification.outputs));
    assert.deepEqual(verification.outputs.map((item) => item.output), ['SR']);
    assert.ok(verification.outputs[0]!.relativeError < 1e-4);
    assert.ok(verification.outputs[0]!.maxAbsExpected > 0.01, 'the output is not trivially zero');
    assert.equal(report.transposes.after, 2);
    // The batch stays dynamic: the exported model runs a batch of two at another size as well.
    const session = await ort.InferenceSession.create(output);
    const result = await session.run({ LR: new ort.Tensor('float32', new Float32Array(2 * 8 * 6 * 3).fill(0.5), [2, 8, 6, 3]) });
    assert.deepEqual(result.SR!.dims, [2, 16, 12, 3]);
    await session.release();
  });

  const train = digits(0, 20);
  const testDigits = digits(200, 10);

  async function trainAndExport(model: tf.LayersModel, name: string, inputShape: number[], training: { epochs: number; batchSize: number }): Promise<string> {
    model.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor(train.images, [train.count, ...inputShape]);
    const ys = tf.oneHot(tf.tensor1d(train.labels, 'int32'), 10);
    await model.fit(xs, ys, { ...training, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);

    const modelJsonPath = await saveLayersModel(model, path.join(folder, name));
    const output = path.join(folder, `${name}.onnx`);
    const report = await exportOnnx({ input: modelJsonPath, output, options: { opset: 17, nchw: false, dynamicBatch: true }, force: false, verify: true, tolerance: 1e-4, shapes: {}, engine: cpuEngine });
    assert.equal(report.verification!.passed, true, JSON.stringify(report.verification!.outputs));

    const expected = tf.tidy(() => model.predict(tf.tensor(testDigits.images, [testDigits.count, ...inputShape])) as tf.Tensor);
    const tfjsClasses = argmaxRows(await expected.data(), 10);
    expected.dispose();
    const session = await ort.InferenceSession.create(output);
    const result = await session.run({ [report.inputs[0]!]: new ort.Tensor('float32', testDigits.images, [testDigits.count, ...inputShape]) });
    await session.release();
    const onnxClasses = argmaxRows(result[report.outputs[0]!]!.data as Float32Array, 10);
    assert.deepEqual(Array.from(onnxClasses), Array.from(tfjsClasses), 'every test digit gets the same class');
    const correct = tfjsClasses.filter((label, index) => label === testDigits.labels[index]).length;
    assert.ok(correct >= 25, `the model learned something (${correct}/${testDigits.count} correct, chance is 10), so agreement is not on a constant`);
    return `${name}: ${correct}/${testDigits.count} test digits correct; export relative error ${report.verification!.outputs[0]!.relativeError.toExponential(2)}`;
  }

  test('a CNN trained on mnist digits keeps all its predictions', async (t) => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, strides: 2, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    t.diagnostic(await trainAndExport(model, 'mnist-cnn', [28, 28, 1], { epochs: 3, batchSize: 50 }));
    model.dispose();
  });

  test('an LSTM trained on mnist digits (pairs of rows as time steps) keeps all its predictions', async (t) => {
    const model = tf.sequential({
      layers: [tf.layers.lstm({ inputShape: [14, 56], units: 16 }), tf.layers.dense({ units: 10, activation: 'softmax' })],
    });
    t.diagnostic(await trainAndExport(model, 'mnist-lstm', [14, 56], { epochs: 4, batchSize: 20 }));
    model.dispose();
  });
});
