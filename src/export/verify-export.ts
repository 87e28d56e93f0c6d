import ort from 'onnxruntime-node';
import { loadCalibrationSet } from '../calibration/calibration-file.js';
import type { Tfjs } from '../engine/tensor-engine.js';
import { ModelpressError, messageOf } from '../errors.js';
import { makeValueInfo } from '../onnx/builders.js';
import { compareOutputs } from '../verify/output-metrics.js';
import { openTfjsRunner, withTfjsRunner, type TfjsArray } from '../runners/tfjs-model.js';
import { generateTfjsInputs, type TfjsFeeds } from '../verify/verify-tfjs.js';
import type { InterfaceLayout } from './layout/nchw-interface.js';
import { permuteValues } from './layout/transpose-perms.js';

/**
 * Run the TF.js model in tfjs and the exported model in onnxruntime on the same inputs and measure every
 * output's drift. Relative error is max|tfjs - onnx| / max(max|tfjs|, RELATIVE_ERROR_FLOOR): the worst
 * absolute error against the output's own scale, so it means the same for logits and for pixels, and an
 * all-zero output does not divide by zero.
 */
export const DEFAULT_EXPORT_TOLERANCE = 1e-4;
export const RELATIVE_ERROR_FLOOR = 1e-6;

export interface ExportOutputError {
  output: string;
  maxAbsError: number;
  /** Largest |value| tfjs produced for this output: the scale relative error is measured against. */
  maxAbsExpected: number;
  relativeError: number;
  cosine: number;
  top1Agreement?: number;
}

export interface ExportVerification {
  /** 'generated' (seeded normal inputs) or the --data file. */
  inputs: string;
  samples: number;
  tolerance: number;
  outputs: ExportOutputError[];
  passed: boolean;
}

export interface ExportVerificationRequest {
  modelJsonPath: string;
  /** The exported model: a path or its bytes. */
  onnx: string | Uint8Array;
  layout: InterfaceLayout;
  tolerance: number;
  tf: Tfjs;
  /** --shape overrides for open input dimensions (TF.js layout). */
  shapes?: Record<string, number[]>;
  /** --data file with inputs in the TF.js model's layout, keyed by input name. */
  dataFile?: string;
}

/** Inputs to verify on, made (or read) before anything is written so a missing --shape fails early. */
export async function exportVerificationInputs(request: Omit<ExportVerificationRequest, 'onnx' | 'layout' | 'tolerance'>): Promise<TfjsFeeds[]> {
  if (!request.dataFile) return generateTfjsInputs(request.modelJsonPath, { shapes: request.shapes, tf: request.tf });
  const runner = await openTfjsRunner(request.modelJsonPath, request.tf);
  try {
    const declared = runner.inputs.map((input) => makeValueInfo(input.name, input.dtype === 'int32' ? 'int32' : 'float32', input.shape ?? []));
    const set = await loadCalibrationSet(request.dataFile, declared);
    return set.samples.map((sample) => Object.fromEntries(Object.entries(sample).map(([name, tensor]) => [name, tfjsArrayOf(tensor)])));
  } finally {
    runner.dispose();
  }
}

function tfjsArrayOf(tensor: ort.Tensor): TfjsArray {
  const shape = tensor.dims.map(Number);
  if (tensor.type === 'int32' || tensor.type === 'int64') return { dtype: 'int32', shape, values: Int32Array.from(tensor.data as ArrayLike<number | bigint>, Number) };
  return { dtype: 'float32', shape, values: Float32Array.from(tensor.data as ArrayLike<number>) };
}

export async function verifyExport(request: ExportVerificationRequest, feeds: TfjsFeeds[]): Promise<ExportVerification> {
  const expected = await withTfjsRunner(request.modelJsonPath, request.tf, async (runner) => {
    const results = [];
    for (const feed of feeds) results.push(await runner.run(feed));
    return results;
  });
  const session = await openSession(request.onnx);
  try {
    const worst = new Map<string, ExportOutputError>();
    for (const [sample, feed] of feeds.entries()) {
      const actual = await runOnnx(session, feed, request.layout);
      for (const [name, reference] of Object.entries(expected[sample]!)) {
        const produced = actual[name];
        if (!produced) throw new ModelpressError(`the exported model has no output '${name}' (tfjs output names: ${Object.keys(expected[sample]!).join(', ')})`);
        if (produced.length !== reference.values.length) {
          throw new ModelpressError(`output '${name}': onnxruntime gives ${produced.length} values, tfjs ${reference.values.length} (shape [${reference.shape.join(', ')}])`);
        }
        const error = outputError(name, reference, produced);
        const previous = worst.get(name);
        worst.set(name, previous ? mergeErrors(previous, error) : error);
      }
    }
    const outputs = [...worst.values()];
    return {
      inputs: request.dataFile ?? 'generated',
      samples: feeds.length,
      tolerance: request.tolerance,
      outputs,
      passed: outputs.every((output) => output.relativeError <= request.tolerance),
    };
  } finally {
    await session.release();
  }
}

function outputError(name: string, reference: TfjsArray, produced: Float32Array): ExportOutputError {
  const last = reference.shape.at(-1) ?? 1;
  const compared = compareOutputs(name, reference.values, produced, reference.shape.length >= 2 && last > 1 ? last : undefined);
  let maxAbsExpected = 0;
  for (const value of reference.values) maxAbsExpected = Math.max(maxAbsExpected, Math.abs(value));
  const relativeError = compared.maxAbsError / Math.max(maxAbsExpected, RELATIVE_ERROR_FLOOR);
  const error: ExportOutputError = { output: name, maxAbsError: compared.maxAbsError, maxAbsExpected, relativeError, cosine: compared.cosine };
  if (compared.top1Agreement !== undefined) error.top1Agreement = compared.top1Agreement;
  return error;
}

function mergeErrors(a: ExportOutputError, b: ExportOutputError): ExportOutputError {
  const merged: ExportOutputError = {
    output: a.output,
    maxAbsError: Math.max(a.maxAbsError, b.maxAbsError),
    maxAbsExpected: Math.max(a.maxAbsExpected, b.maxAbsExpected),
    relativeError: Math.max(a.relativeError, b.relativeError),
    cosine: Math.min(a.cosine, b.cosine),
  };
  if (a.top1Agreement !== undefined && b.top1Agreement !== undefined) merged.top1Agreement = Math.min(a.top1Agreement, b.top1Agreement);
  return merged;
}

async function openSession(onnx: string | Uint8Array): Promise<ort.InferenceSession> {
  try {
    return typeof onnx === 'string' ? await ort.InferenceSession.create(onnx) : await ort.InferenceSession.create(onnx);
  } catch (error) {
    throw new ModelpressError(`onnxruntime cannot load the exported model: ${messageOf(error).split('\n')[0]}`, { cause: error });
  }
}

/** One run in onnxruntime; inputs and outputs converted between the TF.js layout and the model's. */
async function runOnnx(session: ort.InferenceSession, feed: TfjsFeeds, layout: InterfaceLayout): Promise<Record<string, Float32Array>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, array] of Object.entries(feed)) {
    const perm = layout.inputs[name];
    const values = perm ? permuteValues(Float32Array.from(array.values), array.shape, perm) : array.values;
    const shape = perm ? perm.map((axis) => array.shape[axis]!) : array.shape;
    feeds[name] = array.dtype === 'int32' ? new ort.Tensor('int32', Int32Array.from(values), shape) : new ort.Tensor('float32', Float32Array.from(values), shape);
  }
  let results: ort.InferenceSession.OnnxValueMapType;
  try {
    results = await session.run(feeds);
  } catch (error) {
    throw new ModelpressError(`onnxruntime failed to run the exported model: ${messageOf(error).split('\n')[0]}`, { cause: error });
  }
  const outputs: Record<string, Float32Array> = {};
  for (const [name, tensor] of Object.entries(results)) {
    const values = Float32Array.from(tensor.data as ArrayLike<number>);
    const perm = layout.outputs[name];
    outputs[name] = perm ? permuteValues(values, tensor.dims.map(Number), perm) : values;
  }
  return outputs;
}
