import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { serializeLayersModel } from '../../fixtures/tfjs/serialize-layers-model.js';
import { SeededRandom } from '../../src/numeric/seeded-random.js';
import { decodeModelProto, type ModelProto } from '../../src/onnx/onnx-proto.js';
import { exportOnnx, type ExportReport } from '../../src/export/export-model.js';
import { permuteValues } from '../../src/export/layout/transpose-perms.js';

/**
 * Export checks for tiny tfjs models built in a test: the model is saved as model.json + weights.bin
 * (as tfjs-node's file:// handler writes them), exported without the built-in verification, and then run
 * here by tfjs (model.predict on the live model) and by onnxruntime, independently of modelpress's own
 * verify code.
 */

export { tf };

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
}

export async function temporaryFolder(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `modelpress-${prefix}-`));
}

/** Replace tfjs's random initial weights by seeded ones; variances stay positive for BatchNormalization. */
export function setSeededWeights(model: tf.LayersModel, seed: number): void {
  const values = model.weights.map((weight, index) => {
    const shape = weight.shape as number[];
    const count = shape.reduce((product, size) => product * size, 1);
    const [low, high] = weight.originalName.endsWith('moving_variance') ? [0.5, 1.5] : [-0.5, 0.5];
    return tf.tensor(new SeededRandom(seed + index).uniforms(count, low, high), shape);
  });
  model.setWeights(values);
  tf.dispose(values);
}

/** Save `model` as `folder/model.json` + `folder/weights.bin`; returns the model.json path. */
export async function saveLayersModel(model: tf.LayersModel, folder: string): Promise<string> {
  const serialized = await serializeLayersModel(model);
  const modelJson = { ...serialized.modelJson, weightsManifest: [{ paths: ['weights.bin'], weights: serialized.weightSpecs }] };
  await fs.mkdir(folder, { recursive: true });
  await fs.writeFile(path.join(folder, 'weights.bin'), serialized.weightData);
  const modelJsonPath = path.join(folder, 'model.json');
  await fs.writeFile(modelJsonPath, JSON.stringify(modelJson));
  return modelJsonPath;
}

export interface ExportCheckOptions {
  opset?: number;
  nchw?: boolean;
  /** Concrete shapes of the inputs (with batch); default: the model's, open sizes as 2. */
  shapes?: number[][];
  /** Inputs' value generator per input index (default: seeded normal). */
  values?: Array<((count: number, random: SeededRandom) => Float32Array) | undefined>;
  seed?: number;
}

export interface OutputComparison {
  output: string;
  maxAbsError: number;
  relativeError: number;
  expected: Float32Array;
  actual: Float32Array;
}

export interface ExportCheck {
  report: ExportReport;
  proto: ModelProto;
  outputs: OutputComparison[];
  /** The largest relative error over all outputs. */
  worst: number;
}

let counter = 0;

/** Save, export, then run tfjs and onnxruntime on the same seeded inputs and compare every output. */
export async function exportAndCompare(model: tf.LayersModel, options: ExportCheckOptions = {}): Promise<ExportCheck> {
  const folder = await temporaryFolder('export-layer');
  try {
    const modelJsonPath = await saveLayersModel(model, path.join(folder, 'tfjs'));
    const output = path.join(folder, `model-${counter++}.onnx`);
    const report = await exportOnnx({
      input: modelJsonPath,
      output,
      options: { opset: options.opset ?? 17, nchw: options.nchw ?? false, dynamicBatch: true },
      force: false,
      verify: false,
      tolerance: 1e-4,
      shapes: {},
    });
    const proto = decodeModelProto(await fs.readFile(output));
    // The ONNX model keeps the names tfjs gives the model's inputs and outputs.
    if (report.inputs.join() !== model.inputNames.join() || report.outputs.join() !== model.outputNames.join()) {
      throw new Error(`ONNX names ${report.inputs.join()} -> ${report.outputs.join()} differ from tfjs's ${model.inputNames.join()} -> ${model.outputNames.join()}`);
    }
    const random = new SeededRandom(options.seed ?? 7);
    const inputs = model.inputs.map((input, index) => {
      const shape = options.shapes?.[index] ?? input.shape.map((size, axis) => size ?? (axis === 0 ? 2 : 3));
      const count = shape.reduce((product, size) => product * size, 1);
      const values = options.values?.[index]?.(count, random) ?? Float32Array.from({ length: count }, () => random.normal(1));
      return { name: model.inputNames[index]!, shape, values };
    });
    const predicted = tf.tidy(() => {
      const result = model.predict(inputs.map((input) => tf.tensor(input.values, input.shape)));
      return Array.isArray(result) ? result : [result];
    });
    const expected = await Promise.all(predicted.map(async (tensor) => ({ shape: tensor.shape, values: (await tensor.data()) as Float32Array })));
    tf.dispose(predicted);

    const session = await ort.InferenceSession.create(output);
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of inputs) {
      const perm = report.layout === 'nchw' && input.shape.length >= 4 ? [0, input.shape.length - 1, ...input.shape.slice(1, -1).map((_, axis) => axis + 1)] : undefined;
      feeds[input.name] = perm
        ? new ort.Tensor('float32', permuteValues(input.values, input.shape, perm), perm.map((axis) => input.shape[axis]!))
        : new ort.Tensor('float32', input.values, input.shape);
    }
    const results = await session.run(feeds);
    await session.release();
    const outputs = model.outputNames.map((name, index) => {
      const tensor = results[report.outputs[index]!]!;
      let actual: Float32Array = Float32Array.from(tensor.data as Float32Array);
      const dims = tensor.dims.map(Number);
      if (report.layout === 'nchw' && dims.length >= 4) actual = permuteValues(actual, dims, [0, ...dims.slice(2).map((_, axis) => axis + 2), 1]);
      const reference = expected[index]!.values;
      if (actual.length !== reference.length) throw new Error(`output ${name}: onnxruntime gave ${actual.length} values, tfjs ${reference.length}`);
      let maxAbsError = 0;
      let scale = 0;
      for (let i = 0; i < reference.length; i++) {
        maxAbsError = Math.max(maxAbsError, Number.isNaN(actual[i]! - reference[i]!) ? Infinity : Math.abs(actual[i]! - reference[i]!));
        scale = Math.max(scale, Math.abs(reference[i]!));
      }
      return { output: name, maxAbsError, relativeError: maxAbsError / Math.max(scale, 1e-6), expected: reference, actual };
    });
    return { report, proto, outputs, worst: Math.max(...outputs.map((item) => item.relativeError)) };
  } finally {
    await fs.rm(folder, { recursive: true, force: true });
  }
}

export function opTypes(proto: ModelProto): string[] {
  return (proto.graph?.node ?? []).map((node) => node.op_type ?? '');
}
