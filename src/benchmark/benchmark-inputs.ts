import { loadCalibrationSet } from '../calibration/calibration-file.js';
import { ModelpressError, UsageError } from '../errors.js';
import { SeededRandom } from '../numeric/seeded-random.js';
import { makeTensorType } from '../onnx/builders.js';
import { onnxDataTypeByName } from '../onnx/data-types.js';
import type { ValueInfoProto } from '../onnx/onnx-proto.js';
import { elementCount, hostArrayFrom, isFeedableDtype, type HostArray } from '../runners/host-array.js';
import type { RunnerValueInfo } from '../runners/model-runner.js';
import { formatDims, resolveInputShape, shapeFits } from './input-shapes.js';

/**
 * The inputs every model of a run gets: generated from the first model's input metadata (seeded, so two runs
 * feed the same values) or read from --data. They are keyed by the first model's input names; another model
 * whose names differ is fed by position (a TF.js model and its ONNX export rarely agree on names).
 */

/** One input set: a value for every input of the first model, by its name. */
export type InputSet = Record<string, HostArray>;

export interface InputBatch {
  /** Samples per run (dimension 0 of the first input). */
  batchSize: number;
  inputs: Array<{ name: string; dtype: string; shape: number[]; defaulted: string[] }>;
  sets: InputSet[];
}

export const DEFAULT_INPUT_SETS = 4;
const INPUT_SEED = 1234;

/** Exclusive upper bound of generated integer inputs: small enough to index any embedding or class table. */
const INTEGER_LIMIT = 10;

function generatedValues(dtype: string, count: number, random: SeededRandom): ArrayLike<number> {
  if (dtype.startsWith('float')) return Float64Array.from({ length: count }, () => random.normal(1));
  if (dtype === 'bool') return Uint8Array.from({ length: count }, () => (random.next() < 0.5 ? 1 : 0));
  return Float64Array.from({ length: count }, () => Math.floor(random.next() * INTEGER_LIMIT));
}

export function generateInputBatches(
  inputs: RunnerValueInfo[],
  options: { shapes: Record<string, number[]>; batchSizes?: number[]; sets: number },
): InputBatch[] {
  const names = new Set(inputs.map((input) => input.name));
  const unknown = Object.keys(options.shapes).filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw new UsageError(`--shape names ${unknown.map((name) => `'${name}'`).join(', ')}, but the model's inputs are ${inputs.map((input) => `'${input.name}'`).join(', ')}`);
  }
  for (const input of inputs) {
    if (!input.dtype || !isFeedableDtype(input.dtype)) throw new ModelpressError(`input '${input.name}' is ${input.dtype ?? 'not a tensor'}: cannot generate values for it (pass --data)`);
  }
  return (options.batchSizes ?? [undefined]).map((batchSize) => {
    const resolved = inputs.map((input) => ({ input, ...resolveInputShape(input, options.shapes[input.name], batchSize) }));
    // The same seed for every batch size: batch 8 starts with the values batch 1 had.
    const random = new SeededRandom(INPUT_SEED);
    const sets = Array.from({ length: options.sets }, () =>
      Object.fromEntries(resolved.map(({ input, shape }) => [input.name, hostArrayFrom(input.dtype!, shape, generatedValues(input.dtype!, elementCount(shape), random))])),
    );
    return {
      batchSize: resolved[0]?.shape[0] ?? 1,
      inputs: resolved.map(({ input, shape, defaulted }) => ({ name: input.name, dtype: input.dtype!, shape, defaulted })),
      sets,
    };
  });
}

function asValueInfo(input: RunnerValueInfo): ValueInfoProto {
  if (!input.dtype || !onnxDataTypeByName(input.dtype)) throw new ModelpressError(`input '${input.name}' is ${input.dtype ?? 'not a tensor'}: --data cannot supply it`);
  if (!input.shape) return { name: input.name, type: { tensor_type: { elem_type: onnxDataTypeByName(input.dtype)!.code } } };
  return { name: input.name, type: makeTensorType(input.dtype, input.shape) };
}

/** --data FILE (.npy, .npz, .json) checked against the first model's inputs; every sample is one input set. */
export async function loadInputBatch(file: string, inputs: RunnerValueInfo[]): Promise<InputBatch> {
  const calibration = await loadCalibrationSet(file, inputs.map(asValueInfo));
  const sets: InputSet[] = calibration.samples.map((sample) =>
    Object.fromEntries(Object.entries(sample).map(([name, tensor]) => [name, { dtype: tensor.type, shape: tensor.dims.map(Number), data: tensor.data as HostArray['data'] }])),
  );
  const first = sets[0]!;
  return {
    batchSize: Object.values(first)[0]?.shape[0] ?? 1,
    inputs: Object.entries(first).map(([name, array]) => ({ name, dtype: array.dtype, shape: array.shape, defaulted: [] })),
    sets,
  };
}

/**
 * How `model`'s inputs take the first model's: by name when the names are the same set, else by position.
 * Returns model input name -> first model input name.
 */
export function matchInputs(first: RunnerValueInfo[], model: RunnerValueInfo[], modelPath: string): { byPosition: boolean; sourceOf: Map<string, string> } {
  const firstNames = new Set(first.map((input) => input.name));
  if (model.length === first.length && model.every((input) => firstNames.has(input.name))) {
    return { byPosition: false, sourceOf: new Map(model.map((input) => [input.name, input.name])) };
  }
  if (model.length !== first.length) {
    throw new ModelpressError(
      `${modelPath} has ${model.length} inputs (${model.map((input) => input.name).join(', ')}), the first model ${first.length} (${first.map((input) => input.name).join(', ')}): they cannot get the same inputs`,
    );
  }
  return { byPosition: true, sourceOf: new Map(model.map((input, index) => [input.name, first[index]!.name])) };
}

/** The input set renamed for `model`, after checking every shape fits what the model declares. */
export function inputSetFor(set: InputSet, model: RunnerValueInfo[], sourceOf: Map<string, string>, modelPath: string): InputSet {
  const renamed: InputSet = {};
  for (const input of model) {
    const source = sourceOf.get(input.name)!;
    const array = set[source]!;
    if (!shapeFits(input.shape, array.shape)) {
      const from = source === input.name ? '' : ` (fed from '${source}')`;
      throw new ModelpressError(`${modelPath}: input '${input.name}'${from} is ${formatDims(input.shape!)}, the benchmark feeds ${formatDims(array.shape)}`);
    }
    renamed[input.name] = array;
  }
  return renamed;
}
