import type * as tfjs from '@tensorflow/tfjs';
import type { Tfjs } from '../engine/tensor-engine.js';
import { ModelpressError, UsageError } from '../errors.js';
import { SeededRandom } from '../numeric/seeded-random.js';
import type { OutputError, VerificationResult } from '../quantize/quantize-report.js';
import { concreteShape } from './input-shapes.js';
import { compareOutputs, mergeOutputErrors } from './output-metrics.js';
import { defaultTfjs, withTfjsRunner, type TfjsArray, type TfjsModelRunner, type TfjsRunnerInput } from '../runners/tfjs-model.js';

export interface TfjsVerificationOptions {
  /** Full shapes of inputs whose model shape leaves dimensions open, by input name (--shape). */
  shapes?: Record<string, number[]>;
  /** Input sets to generate; default DEFAULT_TFJS_VERIFICATION_SAMPLES. */
  samples?: number;
  /** Inputs made beforehand by generateTfjsInputs (so a missing --shape fails before any rewriting). */
  inputs?: TfjsFeeds[];
  /** The tfjs to run on (the selected engine's); default: @tensorflow/tfjs on the process's backend. */
  tf?: Tfjs;
}

/** One input set, by input name. */
export type TfjsFeeds = Record<string, TfjsArray>;

export const DEFAULT_TFJS_VERIFICATION_SAMPLES = 2;
const VERIFICATION_SEED = 1234;

/**
 * Run the original and the rewritten TF.js model on the same seeded inputs and measure how far every output
 * moved. The models are loaded one after the other, so peak memory is one model plus the outputs.
 */
export async function verifyTfjsModels(
  originalModelJson: string,
  rewrittenModelJson: string,
  options: TfjsVerificationOptions = {},
): Promise<VerificationResult> {
  if (options.inputs?.length === 0) throw new UsageError('verification needs at least one input set');
  const tf = options.tf ?? (await defaultTfjs());
  let feeds = options.inputs;
  const expected = await withTfjsRunner(originalModelJson, tf, (runner) => {
    feeds ??= generatedFeeds(runner, options.shapes ?? {}, options.samples ?? DEFAULT_TFJS_VERIFICATION_SAMPLES);
    return runAll(runner, feeds);
  });
  const actual = await withTfjsRunner(rewrittenModelJson, tf, (runner) => {
    const originalInputs = Object.keys(feeds![0] ?? {}).sort().join(', ');
    const rewrittenInputs = runner.inputs.map((input) => input.name).sort().join(', ');
    if (originalInputs !== rewrittenInputs) {
      throw new ModelpressError(`${rewrittenModelJson}: inputs (${rewrittenInputs}) differ from the original's (${originalInputs})`);
    }
    return runAll(runner, feeds!);
  });

  const outputs: OutputError[] = Object.keys(expected[0]!).map((name) => {
    const perSample = expected.map((before, sample) => {
      const after = actual[sample]![name];
      if (after === undefined) throw new ModelpressError(`${rewrittenModelJson}: output "${name}" of the original model is missing`);
      const lastDimension = before[name]!.shape.at(-1) ?? 1;
      return compareOutputs(name, before[name]!.values, after.values, lastDimension > 1 ? lastDimension : undefined);
    });
    return mergeOutputErrors(perSample);
  });
  return { inputs: 'generated', samples: feeds!.length, outputs };
}

/**
 * Seeded inputs for `modelJsonPath`, from the input names, shapes and dtypes tfjs reports once the model is
 * loaded. Call it before rewriting: an open dimension without --shape fails here, before anything is written.
 */
export async function generateTfjsInputs(modelJsonPath: string, options: TfjsVerificationOptions = {}): Promise<TfjsFeeds[]> {
  const tf = options.tf ?? (await defaultTfjs());
  return withTfjsRunner(modelJsonPath, tf, async (runner) =>
    generatedFeeds(runner, options.shapes ?? {}, options.samples ?? DEFAULT_TFJS_VERIFICATION_SAMPLES),
  );
}

async function runAll(runner: TfjsModelRunner, feeds: TfjsFeeds[]): Promise<TfjsFeeds[]> {
  const results = [];
  for (const feed of feeds) results.push(await runner.run(feed));
  return results;
}

/** `samples` input sets; the same on every run for the same model and shapes. */
function generatedFeeds(runner: TfjsModelRunner, shapes: Record<string, number[]>, samples: number): TfjsFeeds[] {
  if (!Number.isSafeInteger(samples) || samples < 1) throw new UsageError(`verification needs at least one sample, got ${samples}`);
  const names = new Set(runner.inputs.map((input) => input.name));
  const unknown = Object.keys(shapes).filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw new UsageError(`--shape names ${unknown.map((name) => `'${name}'`).join(', ')}, but the model's inputs are ${[...names].map((name) => `'${name}'`).join(', ')}`);
  }
  const shapesByInput = runner.inputs.map((input) => tfjsInputShape(input, shapes));
  const random = new SeededRandom(VERIFICATION_SEED);
  return Array.from({ length: samples }, () =>
    Object.fromEntries(runner.inputs.map((input, index) => [input.name, seededArray(input, shapesByInput[index]!, random)])),
  );
}

/**
 * The shape to feed, by the rule every verification uses (concreteShape: --shape wins, an open batch is 1,
 * other open dimensions need --shape); an override must also agree with the dimensions the model fixes.
 */
export function tfjsInputShape(input: TfjsRunnerInput, shapes: Record<string, number[]>): number[] {
  const shape = concreteShape(input.name, input.shape ?? null, shapes);
  const conflict = input.shape?.findIndex((size, axis) => size !== null && size !== shape[axis]) ?? -1;
  if (conflict >= 0) {
    throw new UsageError(`--shape ${input.name}=${shape.join('x')} sets dimension ${conflict} to ${shape[conflict]}, the model fixes it at ${input.shape![conflict]}`);
  }
  return shape;
}

/** As the ONNX verification: floats roughly normal (mean 0, deviation 1), integers in [0, 10), bools 0/1. */
function seededArray(input: TfjsRunnerInput, shape: number[], random: SeededRandom): TfjsArray {
  const count = shape.reduce((product, size) => product * size, 1);
  const dtype: tfjs.DataType = input.dtype;
  if (dtype === 'float32') return { dtype, shape, values: Float32Array.from({ length: count }, () => random.normal(1)) };
  if (dtype === 'int32') return { dtype, shape, values: Int32Array.from({ length: count }, () => Math.floor(random.next() * 10)) };
  if (dtype === 'bool') return { dtype, shape, values: Uint8Array.from({ length: count }, () => (random.next() < 0.5 ? 0 : 1)) };
  throw new ModelpressError(`input '${input.name}' is ${dtype}: cannot generate verification data for it (use --no-verify)`);
}
