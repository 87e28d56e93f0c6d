import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { DEFAULT_EXPORT_OPTIONS, type ExportedModel, type ExportOptions } from '../../src/export/export-contract.js';
import { convertGraphModel } from '../../src/export/graph/convert-graph-model.js';
import { encodeModelProto } from '../../src/onnx/onnx-proto.js';
import { loadTfjsModel } from '../../src/tfjs/load-tfjs-model.js';
import { tfjsModelIOHandler } from '../../src/tfjs/tfjs-io-handler.js';
import { SeededRandom } from '../../src/numeric/seeded-random.js';

/**
 * Runs a GraphModel in tfjs and its ONNX export in onnxruntime-node on the same inputs, and compares
 * every output by name.
 */
export interface Feed {
  values: Float32Array | Int32Array | Uint8Array;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

export interface BothRuns {
  exported: ExportedModel;
  tfjs: Record<string, { values: Float32Array | Int32Array | Uint8Array; shape: number[] }>;
  onnx: Record<string, { values: ArrayLike<number | bigint | boolean>; shape: number[] }>;
}

export function randomFeed(shape: number[], seed: number, low = -1, high = 1): Feed {
  const count = shape.reduce((product, size) => product * size, 1);
  return { values: new SeededRandom(seed).uniforms(count, low, high), shape, dtype: 'float32' };
}

export function intFeed(values: number[], shape: number[]): Feed {
  return { values: Int32Array.from(values), shape, dtype: 'int32' };
}

export async function runTfjs(modelJsonPath: string, feeds: Record<string, Feed>): Promise<BothRuns['tfjs']> {
  await tf.setBackend('cpu');
  const model = await tf.loadGraphModel(tfjsModelIOHandler(await loadTfjsModel(modelJsonPath)));
  const tensors = Object.fromEntries(Object.entries(feeds).map(([name, feed]) => [name, tf.tensor(feed.values, feed.shape, feed.dtype)]));
  try {
    const result = await executeGraph(model, tensors);
    const outputs = Array.isArray(result) ? result : [result];
    const values: BothRuns['tfjs'] = {};
    for (const [index, output] of outputs.entries()) {
      values[model.outputNodes[index]!] = { values: (await output.data()) as Float32Array, shape: output.shape.slice() };
    }
    tf.dispose(outputs);
    return values;
  } finally {
    tf.dispose(Object.values(tensors));
    model.dispose();
  }
}

/** execute() refuses dynamic-shape ops (Where) and says to use executeAsync, which warns for the others. */
async function executeGraph(model: tf.GraphModel, tensors: tf.NamedTensorMap): Promise<tf.Tensor | tf.Tensor[]> {
  try {
    return model.execute(tensors);
  } catch (error) {
    if (!String((error as Error).message).includes('executeAsync')) throw error;
    return model.executeAsync(tensors);
  }
}

const ORT_TYPES = { float32: 'float32', int32: 'int32', bool: 'bool' } as const;

export async function runOnnx(exported: ExportedModel, feeds: Record<string, Feed>): Promise<BothRuns['onnx']> {
  const session = await ort.InferenceSession.create(encodeModelProto(exported.proto));
  try {
    const ortFeeds = Object.fromEntries(
      Object.entries(feeds).map(([name, feed]) => [
        name,
        new ort.Tensor(ORT_TYPES[feed.dtype], feed.dtype === 'bool' ? Uint8Array.from(feed.values) : feed.values, feed.shape),
      ]),
    );
    const results = await session.run(ortFeeds);
    return Object.fromEntries(Object.entries(results).map(([name, tensor]) => [name, { values: tensor.data as ArrayLike<number>, shape: [...tensor.dims] }]));
  } finally {
    await session.release();
  }
}

export async function convertAndRunBoth(modelJsonPath: string, feeds: Record<string, Feed>, options: Partial<ExportOptions> = {}): Promise<BothRuns> {
  const exported = await convertGraphModel(await loadTfjsModel(modelJsonPath), { ...DEFAULT_EXPORT_OPTIONS, ...options });
  return { exported, tfjs: await runTfjs(modelJsonPath, feeds), onnx: await runOnnx(exported, feeds) };
}

/** max |onnx - tfjs| relative to the largest |tfjs| value of the output (absolute below magnitude 1). */
export function assertOutputsMatch(runs: BothRuns, tolerance = 1e-4): void {
  assert.deepEqual(Object.keys(runs.onnx).sort(), Object.keys(runs.tfjs).sort(), 'the exported model has the tfjs output names');
  const declared = new Map((runs.exported.proto.graph?.output ?? []).map((output) => [output.name, output.type?.tensor_type?.shape?.dim]));
  for (const [name, expected] of Object.entries(runs.tfjs)) {
    const actual = runs.onnx[name]!;
    assert.deepEqual(actual.shape, expected.shape, `output ${name}: shape`);
    // The converter's shape inference: a declared size must be the real one (onnxruntime does not check).
    const dims = declared.get(name);
    if (dims !== undefined) {
      assert.equal(dims.length, actual.shape.length, `output ${name}: declared rank`);
      dims.forEach((dim, axis) => {
        if (dim.dim_value !== undefined) assert.equal(Number(dim.dim_value), actual.shape[axis], `output ${name}: declared size of axis ${axis}`);
      });
    }
    let scale = 1;
    for (const value of expected.values) scale = Math.max(scale, Math.abs(Number(value)));
    for (let index = 0; index < expected.values.length; index++) {
      const difference = Math.abs(Number(actual.values[index]) - Number(expected.values[index]));
      if (!(difference <= tolerance * scale)) {
        assert.fail(`output ${name}[${index}]: onnx ${Number(actual.values[index])}, tfjs ${Number(expected.values[index])} (tolerance ${tolerance} x ${scale})`);
      }
    }
  }
}

export async function assertExportMatches(modelJsonPath: string, feeds: Record<string, Feed>, options: Partial<ExportOptions> = {}): Promise<BothRuns> {
  const runs = await convertAndRunBoth(modelJsonPath, feeds, options);
  assertOutputsMatch(runs);
  return runs;
}
