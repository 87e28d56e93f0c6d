import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { exportOnnx } from '../src/export/export-model.js';
import { SeededRandom } from '../src/numeric/seeded-random.js';
import { saveLayersModel, temporaryFolder, tf, useCpuBackend } from './support/export-layers-harness.js';

/**
 * Keras GRU with reset_after=True (the Keras 2 default) cannot run in tfjs, so it is checked against the
 * Keras formula written out here: z, r = sigmoid(x Wz|r + bz|r + h Uz|r + b'z|r),
 * h~ = tanh(x Wh + bh + r * (h Uh + b'h)), h = z h + (1 - z) h~.
 */

const [STEPS, FEATURES, UNITS] = [5, 3, 4];

function sigmoid(value: number): number {
  return 1 / (1 + Math.exp(-value));
}

function referenceGru(x: Float32Array, kernel: Float32Array, recurrent: Float32Array, bias: Float32Array): Float32Array {
  const gates = 3 * UNITS;
  let h = new Float32Array(UNITS);
  const sequence = new Float32Array(STEPS * UNITS);
  for (let step = 0; step < STEPS; step++) {
    const xw = new Float64Array(gates);
    const hu = new Float64Array(gates);
    for (let gate = 0; gate < gates; gate++) {
      xw[gate] = bias[gate]!;
      hu[gate] = bias[gates + gate]!;
      for (let feature = 0; feature < FEATURES; feature++) xw[gate] += x[step * FEATURES + feature]! * kernel[feature * gates + gate]!;
      for (let unit = 0; unit < UNITS; unit++) hu[gate] += h[unit]! * recurrent[unit * gates + gate]!;
    }
    const next = new Float32Array(UNITS);
    for (let unit = 0; unit < UNITS; unit++) {
      const z = sigmoid(xw[unit]! + hu[unit]!);
      const r = sigmoid(xw[UNITS + unit]! + hu[UNITS + unit]!);
      const candidate = Math.tanh(xw[2 * UNITS + unit]! + r * hu[2 * UNITS + unit]!);
      next[unit] = z * h[unit]! + (1 - z) * candidate;
    }
    h = next;
    sequence.set(h, step * UNITS);
  }
  return sequence;
}

test('GRU reset_after=True exports as ONNX GRU linear_before_reset=1 and matches the Keras formula', async () => {
  await useCpuBackend();
  const folder = await temporaryFolder('export-gru');
  const model = tf.sequential({ layers: [tf.layers.gru({ inputShape: [STEPS, FEATURES], units: UNITS, returnSequences: true, recurrentActivation: 'sigmoid', name: 'gru' })] });
  try {
    // Save a reset_after=False GRU, then rewrite it as Keras stores reset_after=True: bias [2, 3*units].
    const modelJsonPath = await saveLayersModel(model, folder);
    const random = new SeededRandom(5);
    const kernel = random.uniforms(FEATURES * 3 * UNITS, -0.6, 0.6);
    const recurrent = random.uniforms(UNITS * 3 * UNITS, -0.6, 0.6);
    const bias = random.uniforms(2 * 3 * UNITS, -0.3, 0.3);
    const json = JSON.parse(await fs.readFile(modelJsonPath, 'utf8'));
    json.modelTopology.config.layers[0].config.reset_after = true;
    json.weightsManifest[0].weights = [
      { name: 'gru/kernel', shape: [FEATURES, 3 * UNITS], dtype: 'float32' },
      { name: 'gru/recurrent_kernel', shape: [UNITS, 3 * UNITS], dtype: 'float32' },
      { name: 'gru/bias', shape: [2, 3 * UNITS], dtype: 'float32' },
    ];
    await fs.writeFile(modelJsonPath, JSON.stringify(json));
    const bytes = new Uint8Array(4 * (kernel.length + recurrent.length + bias.length));
    new Float32Array(bytes.buffer).set([...kernel, ...recurrent, ...bias]);
    await fs.writeFile(path.join(folder, 'weights.bin'), bytes);

    const output = path.join(folder, 'gru.onnx');
    const report = await exportOnnx({ input: modelJsonPath, output, options: { opset: 17, nchw: false, dynamicBatch: true }, force: false, verify: false, tolerance: 1e-4, shapes: {} });
    const x = new SeededRandom(6).uniforms(STEPS * FEATURES, -1, 1);
    const session = await ort.InferenceSession.create(output);
    const result = await session.run({ [report.inputs[0]!]: new ort.Tensor('float32', x, [1, STEPS, FEATURES]) });
    await session.release();
    const actual = result[report.outputs[0]!]!.data as Float32Array;
    const expected = referenceGru(x, kernel, recurrent, bias);
    const worst = Math.max(...expected.map((value, index) => Math.abs(value - actual[index]!)));
    assert.ok(worst < 1e-5, `max abs error ${worst}`);
  } finally {
    model.dispose();
    await fs.rm(folder, { recursive: true, force: true });
  }
});
