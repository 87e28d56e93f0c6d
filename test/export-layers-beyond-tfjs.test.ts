import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { exportOnnx } from '../src/export/export-model.js';
import { SeededRandom } from '../src/numeric/seeded-random.js';
import { saveLayersModel, setSeededWeights, temporaryFolder, tf, useCpuBackend } from './support/export-layers-harness.js';

/**
 * Keras settings that Keras models use but tfjs cannot run (Subtract layer, Conv1D padding='causal'): the
 * model is saved from a tfjs model and its JSON edited, and the export is checked against the same
 * computation expressed with what tfjs does run.
 */

type Tensor = tf.SymbolicTensor;
let folder: string;

async function exportEdited(model: tf.LayersModel, name: string, edit: (layers: Array<{ class_name: string; config: Record<string, unknown> }>) => void): Promise<ort.InferenceSession> {
  const modelJsonPath = await saveLayersModel(model, path.join(folder, name));
  const json = JSON.parse(await fs.readFile(modelJsonPath, 'utf8'));
  edit(json.modelTopology.config.layers);
  await fs.writeFile(modelJsonPath, JSON.stringify(json));
  const output = path.join(folder, `${name}.onnx`);
  await exportOnnx({ input: modelJsonPath, output, options: { opset: 17, nchw: false, dynamicBatch: true }, force: false, verify: false, tolerance: 1e-4, shapes: {} });
  return ort.InferenceSession.create(output);
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let index = 0; index < a.length; index++) worst = Math.max(worst, Math.abs(a[index]! - b[index]!));
  return worst;
}

describe('Keras layers tfjs cannot run', () => {
  before(async () => {
    await useCpuBackend();
    folder = await temporaryFolder('export-beyond');
  });
  after(() => fs.rm(folder, { recursive: true, force: true }));

  test('Subtract exports as a - b', async () => {
    const a = tf.input({ shape: [3], name: 'a' });
    const b = tf.input({ shape: [3], name: 'b' });
    const model = tf.model({ inputs: [a, b], outputs: tf.layers.add({ name: 'difference' }).apply([a, b]) as Tensor });
    const session = await exportEdited(model, 'subtract', (layers) => (layers.find((layer) => layer.class_name === 'Add')!.class_name = 'Subtract'));
    const random = new SeededRandom(3);
    const [left, right] = [random.uniforms(6, -1, 1), random.uniforms(6, -1, 1)];
    const result = await session.run({ a: new ort.Tensor('float32', left, [2, 3]), b: new ort.Tensor('float32', right, [2, 3]) });
    await session.release();
    assert.ok(maxAbsDifference(result.difference!.data as Float32Array, left.map((value, index) => value - right[index]!)) < 1e-7);
    model.dispose();
  });

  test("Conv1D padding='causal' equals a valid Conv1D over the input left-padded by (k-1)*dilation", async () => {
    const [steps, features, kernel, dilation] = [7, 2, 3, 2];
    const input = tf.input({ shape: [null, features] as unknown as number[], name: 'x' });
    const model = tf.model({ inputs: input, outputs: tf.layers.conv1d({ filters: 3, kernelSize: kernel, dilationRate: dilation, name: 'conv' }).apply(input) as Tensor });
    setSeededWeights(model, 31);
    const x = new SeededRandom(4).uniforms(steps * features, -1, 1);
    const pad = (kernel - 1) * dilation;
    const expected = tf.tidy(() => model.predict(tf.tensor(x, [1, steps, features]).pad([[0, 0], [pad, 0], [0, 0]])) as tf.Tensor);
    const reference = await expected.data();
    expected.dispose();
    const session = await exportEdited(model, 'causal', (layers) => (layers.find((layer) => layer.class_name === 'Conv1D')!.config.padding = 'causal'));
    const result = await session.run({ x: new ort.Tensor('float32', x, [1, steps, features]) });
    await session.release();
    assert.deepEqual(result.conv!.dims, [1, steps, 3]);
    assert.ok(maxAbsDifference(result.conv!.data as Float32Array, reference) < 1e-5);
    model.dispose();
  });
});
