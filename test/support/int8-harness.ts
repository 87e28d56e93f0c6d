/**
 * Shared steps of the int8 scheme tests (no tests of its own): load a fixture the way the pipeline does,
 * run a scheme, save, and compare onnxruntime's outputs for the float and quantized models.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { CalibrationSet } from '../../src/calibration/calibration-set.js';
import { makeFloatTensor, makeGraph, makeInt64Tensor, makeModel, makeNode, makeValueInfo } from '../../src/onnx/builders.js';
import { promoteConstantWeightsToInitializers } from '../../src/onnx/constant-weights.js';
import { allGraphs } from '../../src/onnx/graph-walk.js';
import { loadOnnxModel, OnnxModel } from '../../src/onnx/onnx-model.js';
import type { NodeProto, TensorProto } from '../../src/onnx/onnx-proto.js';
import { saveOnnxModel } from '../../src/onnx/save-onnx.js';
import { defaultQuantizeOptions, type QuantizeOptions } from '../../src/quantize/quantize-options.js';
import type { OutputError, TensorDecision } from '../../src/quantize/quantize-report.js';
import type { OnnxSchemeContext } from '../../src/quantize/schemes.js';
import { silentLogger } from '../../src/terminal/logger.js';
import { compareOutputs, mergeOutputErrors } from '../../src/verify/output-metrics.js';
import { samplePath } from './onnx-samples.js';

export type OnnxScheme = (context: OnnxSchemeContext) => Promise<TensorDecision[]>;

export function int8Options(overrides: Partial<QuantizeOptions> = {}): QuantizeOptions {
  return defaultQuantizeOptions('int8', overrides);
}

/** A fixture as the pipeline sees it: Constant-node weights promoted to initializers. */
export async function loadFixture(file: string): Promise<OnnxModel> {
  const model = await loadOnnxModel(samplePath(file));
  promoteConstantWeightsToInitializers(model.proto);
  return model;
}

export async function makeWorkDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-int8-'));
}

export interface QuantizedModel {
  model: OnnxModel;
  decisions: TensorDecision[];
  file: string;
  bytes: number;
}

export async function quantizeToFile(scheme: OnnxScheme, model: OnnxModel, options: QuantizeOptions, file: string): Promise<QuantizedModel> {
  const decisions = await scheme({ model, options, log: silentLogger });
  const saved = await saveOnnxModel(model, file, { externalData: 'never', force: true });
  return { model, decisions, file, bytes: saved.modelBytes };
}

export async function runAll(
  file: string,
  samples: Array<Record<string, ort.Tensor>>,
  sessionOptions: ort.InferenceSession.SessionOptions = {},
): Promise<Array<Record<string, ort.Tensor>>> {
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3, ...sessionOptions });
  try {
    const results = [];
    for (const feeds of samples) results.push((await session.run(feeds)) as Record<string, ort.Tensor>);
    return results;
  } finally {
    await session.release();
  }
}

/** Per output: worst cosine and max error over the samples, argmax agreement over the last axis. */
export async function compareModels(original: string, quantized: string, samples: Array<Record<string, ort.Tensor>>): Promise<Record<string, OutputError>> {
  const expected = await runAll(original, samples);
  const actual = await runAll(quantized, samples);
  const merged: Record<string, OutputError> = {};
  for (const name of Object.keys(expected[0]!)) {
    const errors = expected.map((outputs, index) => {
      const tensor = outputs[name]!;
      return compareOutputs(name, tensor.data as Float32Array, actual[index]![name]!.data as Float32Array, tensor.dims[tensor.dims.length - 1]);
    });
    merged[name] = mergeOutputErrors(errors);
  }
  return merged;
}

export function opTypeCounts(model: OnnxModel): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { graph } of allGraphs(model.proto)) for (const node of graph.node ?? []) counts[node.op_type!] = (counts[node.op_type!] ?? 0) + 1;
  return counts;
}

export function findInitializer(model: OnnxModel, name: string): TensorProto | undefined {
  for (const { graph } of allGraphs(model.proto)) {
    const tensor = graph.initializer?.find((candidate) => candidate.name === name);
    if (tensor) return tensor;
  }
  return undefined;
}

/** Names of the float32 initializers that MatMul/Gemm/Conv nodes still read directly as weights. */
export function floatWeightsStillRead(model: OnnxModel): string[] {
  const names: string[] = [];
  for (const { graph } of allGraphs(model.proto)) {
    const floats = new Set((graph.initializer ?? []).filter((tensor) => tensor.data_type === 1).map((tensor) => tensor.name));
    for (const node of graph.node ?? []) {
      if (['MatMul', 'Gemm', 'Conv'].includes(node.op_type!) && floats.has(node.input?.[1])) names.push(node.input![1]!);
    }
  }
  return names;
}

const wave = (count: number, phase: number) => Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37 + phase));

/** PP-OCR rec inputs 320 wide (40 output positions each), three phases of a sine texture. */
export function recognitionSamples(count = 3): Array<Record<string, ort.Tensor>> {
  return Array.from({ length: count }, (_, phase) => ({ x: new ort.Tensor('float32', wave(3 * 48 * 320, phase), [1, 3, 48, 320]) }));
}

/**
 * A page-like image for PP-OCR det, normalised as PaddleOCR does ((v/255 - 0.5) / 0.5): light paper with
 * dark word-shaped blocks, so the detector's probability map is far from all-zero.
 */
export function detectionSamples(): Array<Record<string, ort.Tensor>> {
  const [height, width] = [64, 128];
  const image = new Float32Array(3 * height * width);
  for (let channel = 0; channel < 3; channel++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const ink = y % 16 >= 5 && y % 16 < 11 && x % 12 < 8 && x > 8 && x < width - 8;
        image[(channel * height + y) * width + x] = ink ? -0.8 : 0.9;
      }
    }
  }
  return [{ x: new ort.Tensor('float32', image, [1, 3, height, width]) }];
}

export function calibrationOf(samples: Array<Record<string, ort.Tensor>>): CalibrationSet {
  return { source: 'test samples', samples };
}

/**
 * PP-OCR rec imports opset 9. Between opset 9 and 10 only Slice changed among its ops (starts/ends/axes
 * moved from attributes to inputs), so this test-side upgrade gives the same model at opset 10.
 */
export function upgradeSlicesToOpset10(model: OnnxModel): void {
  for (const { graph } of allGraphs(model.proto)) {
    for (const node of graph.node ?? []) {
      if (node.op_type !== 'Slice') continue;
      const inputs = ['starts', 'ends', 'axes'].map((key) => {
        const values = node.attribute?.find((attribute) => attribute.name === key)?.ints?.map(Number);
        if (!values) return '';
        const tensor = makeInt64Tensor(`${node.name}_${key}`, [values.length], values);
        graph.initializer!.push(tensor);
        return tensor.name!;
      });
      node.input = [node.input![0]!, ...inputs];
      node.attribute = [];
    }
  }
  model.proto.opset_import!.find((opset) => !opset.domain)!.version = 10;
}

/**
 * y = If(flag, then: MatMul(x, W) + 1, else: Relu(MatMul(x, W))): one outer weight read from two branches,
 * so it cannot move into either and its rewrite must serve both from the outer graph.
 */
export function sharedBranchWeightModel(directory: string): OnnxModel {
  const branch = (name: string, nodes: NodeProto[], output: string) =>
    makeGraph({ name, inputs: [], outputs: [makeValueInfo(output, 'float32', ['batch', 6])], initializers: name === 'then_branch' ? [makeFloatTensor('one', [], [1])] : [], nodes });
  const thenBranch = branch('then_branch', [makeNode('MatMul', ['x', 'W'], ['then_mm']), makeNode('Add', ['then_mm', 'one'], ['then_out'])], 'then_out');
  const elseBranch = branch('else_branch', [makeNode('MatMul', ['x', 'W'], ['else_mm']), makeNode('Relu', ['else_mm'], ['else_out'])], 'else_out');
  const weights = Float32Array.from({ length: 24 }, (_, index) => Math.sin(index * 1.3) * 0.5);
  const proto = makeModel(
    makeGraph({
      name: 'shared_branch_weight',
      inputs: [makeValueInfo('x', 'float32', ['batch', 4]), makeValueInfo('flag', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 6])],
      initializers: [makeFloatTensor('W', [4, 6], weights)],
      nodes: [makeNode('If', ['flag'], ['y'], { then_branch: thenBranch, else_branch: elseBranch })],
    }),
    { '': 17 },
  );
  return new OnnxModel(proto, path.join(directory, 'shared-branch-weight.onnx'), false);
}

export function sharedBranchSamples(): Array<Record<string, ort.Tensor>> {
  return [true, false, true, false].map((flag, index) => ({ x: new ort.Tensor('float32', wave(8, index), [2, 4]), flag: new ort.Tensor('bool', [flag], []) }));
}
