import { readFileSync } from 'node:fs';
import type { DeviceChoice } from '../engine/device-choice.js';
import type { EngineInfo } from '../engine/tensor-engine.js';
import { UsageError, messageOf } from '../errors.js';
import { totalFileBytes } from '../io/file-sizes.js';
import { locateModel, type LocatedModel } from '../model-format.js';
import type { HostArray } from '../runners/host-array.js';
import type { ModelRunner, RunnerOptions } from '../runners/model-runner.js';
import { RUNNERS } from '../runners/runner-table.js';
import type { Logger } from '../terminal/logger.js';
import type { ProgressFactory } from '../terminal/progress.js';
import { generateInputBatches, inputSetFor, loadInputBatch, matchInputs, type InputBatch } from './benchmark-inputs.js';
import type { BenchmarkResult, ModelBenchmark, ModelComparison } from './benchmark-result.js';
import { captureEnvironment } from './environment.js';
import { checkGatesApply, evaluateGates, type Gate } from './gates.js';
import { barProgress, measureInChild } from './measure-in-child.js';
import { measureModel, type ModelMeasurementSpec, type RunnerTable } from './measure-model.js';
import { modelFileSizes } from './model-files.js';
import { OutputAgreement } from './output-agreement.js';

/**
 * `modelpress benchmark`, as a library call. Two passes over the models, one model loaded at a time:
 *
 * 1. check: load each model, match its inputs to the first model's, run every input set once (untimed) and
 *    compare the outputs with the baseline's. Bad input of any kind fails here, before any timed run.
 * 2. measure: load each model again (page cache warm, the same process state for all), warm up, then time
 *    the runs for every batch size and concurrency. A model failing here is reported as failed; the others
 *    go on.
 */

export interface BenchmarkRequest {
  models: string[];
  runner: RunnerOptions;
  warmup: number;
  runs?: number;
  durationSeconds?: number;
  /** Batch sizes to sweep (dimension 0 of every input); undefined: the model's own. */
  batchSizes?: number[];
  /** Concurrency levels; each measured for every batch size. */
  concurrency: number[];
  shapes: Record<string, number[]>;
  dataFile?: string;
  inputSets: number;
  gates: Gate[];
  /** Where TF.js models compute (the measuring process selects its own engine). */
  device: DeviceChoice;
  log: Logger;
  progress: ProgressFactory;
  /**
   * Measure in this process with these runners instead of one child process per model; for tests that
   * substitute a runner (a model failing mid-run). Memory figures then mix the models.
   */
  inProcess?: { runners: RunnerTable };
}

const packageVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function checkBenchmarkRequest(request: BenchmarkRequest): void {
  if (request.models.length === 0) throw new UsageError('benchmark needs at least one model');
  if ((request.runs === undefined) === (request.durationSeconds === undefined)) throw new UsageError('give either --runs or --duration');
  if (request.dataFile && request.batchSizes) throw new UsageError('--batch-size cannot be combined with --data: the batch comes from the data file');
  if (request.dataFile && Object.keys(request.shapes).length > 0) throw new UsageError('--shape cannot be combined with --data: the shapes come from the data file');
  if (request.runner.cudaGraph && request.runner.provider !== 'cuda') throw new UsageError(`--cuda-graph needs --provider cuda (got --provider ${request.runner.provider})`);
  checkGatesApply(request.gates, request.models.length);
}

interface CheckedModel {
  located: LocatedModel;
  path: string;
  runtime: ModelRunner['runtime'];
  format: ModelRunner['format'];
  settings: ModelRunner['settings'];
  inputsByPosition: Record<string, string> | null;
  /** Model input name -> the fed input (first model's name). */
  sourceOf: Map<string, string>;
  agreement: Omit<ModelComparison, 'speedups' | 'sizeRatio' | 'memoryRatio'> | null;
}

export async function runBenchmark(request: BenchmarkRequest): Promise<BenchmarkResult> {
  checkBenchmarkRequest(request);
  const startedAt = new Date().toISOString();
  const located = await Promise.all(request.models.map((model) => locateModel(model)));
  let engine: EngineInfo | null = null;
  const runnerOptions: RunnerOptions = {
    ...request.runner,
    engine: async () => {
      const loaded = await request.runner.engine();
      engine = { name: loaded.name, backend: loaded.backend, device: loaded.device };
      return loaded;
    },
  };

  const { batches, checked } = await checkModels(request, located, runnerOptions);
  const models: ModelBenchmark[] = [];
  for (const model of checked) models.push(await measureModelOf(request, model, batches, runnerOptions));
  addComparisons(models, checked);

  const gates = evaluateGates(request.gates, models);
  return {
    tool: 'modelpress benchmark',
    version: packageVersion,
    startedAt,
    environment: captureEnvironment(request.runner, engine),
    settings: {
      warmup: request.warmup,
      runs: request.runs ?? null,
      durationSeconds: request.durationSeconds ?? null,
      batchSizes: batches.map((batch) => batch.batchSize),
      concurrency: request.concurrency,
      inputSource: request.dataFile ? 'data' : 'generated',
      dataFile: request.dataFile ?? null,
      inputSets: batches[0]!.sets.length,
      percentileMethod: 'linear-interpolation',
    },
    inputs: batches.map((batch) => ({ batchSize: batch.batchSize, inputs: batch.inputs })),
    models,
    gates,
    passed: models.every((model) => model.status === 'ok') && gates.every((gate) => gate.passed),
  };
}

async function withRunner<T>(located: LocatedModel, options: RunnerOptions, use: (runner: ModelRunner) => Promise<T>): Promise<T> {
  const runner = await RUNNERS[located.family](located.file, options);
  try {
    return await use(runner);
  } finally {
    await runner.dispose();
  }
}

async function checkModels(request: BenchmarkRequest, located: LocatedModel[], options: RunnerOptions) {
  let batches: InputBatch[] = [];
  let baselineOutputs: Array<Array<Record<string, HostArray>>> = [];
  let baselineInputs: ModelRunner['inputs'] = [];
  const checked: CheckedModel[] = [];
  for (const [index, model] of located.entries()) {
    request.log.debug(`checking ${model.file}: loading it and running every input set once`);
    checked.push(
      await withRunner(model, options, async (runner) => {
        if (index === 0) {
          baselineInputs = runner.inputs;
          batches = request.dataFile
            ? [await loadInputBatch(request.dataFile, runner.inputs)]
            : generateInputBatches(runner.inputs, { shapes: request.shapes, batchSizes: request.batchSizes, sets: request.inputSets });
          reportDefaultedDimensions(batches, request.log);
        }
        const { byPosition, sourceOf } = index === 0 ? { byPosition: false, sourceOf: new Map(runner.inputs.map((input) => [input.name, input.name])) } : matchInputs(baselineInputs, runner.inputs, model.file);
        const agreement = index === 0 ? null : new OutputAgreement(model.file);
        for (const [batchIndex, batch] of batches.entries()) {
          const outputs = await runSetsOnce(runner, batch, sourceOf, model.file);
          if (index === 0) baselineOutputs.push(outputs);
          else outputs.forEach((actual, set) => agreement!.add(baselineOutputs[batchIndex]![set]!, actual));
        }
        if (byPosition) request.log.info(`${model.file}: inputs fed by position (${[...sourceOf].map(([name, source]) => `${source} -> ${name}`).join(', ')})`);
        const summary = agreement?.summary(located[0]!.file) ?? null;
        if (summary?.accuracyError) request.log.warn(summary.accuracyError);
        return {
          located: model,
          path: model.file,
          runtime: runner.runtime,
          format: runner.format,
          settings: runner.settings,
          inputsByPosition: byPosition ? Object.fromEntries(sourceOf) : null,
          sourceOf,
          agreement: summary,
        };
      }),
    );
  }
  baselineOutputs = [];
  return { batches, checked };
}

function reportDefaultedDimensions(batches: InputBatch[], log: Logger): void {
  for (const input of batches[0]?.inputs ?? []) {
    if (input.defaulted.length > 0) log.warn(`input '${input.name}': open ${input.defaulted.join(', ')} (choose with --shape ${input.name}=...)`);
  }
}

/** Every input set of `batch` through the runner once, outputs read back; inputs renamed for the model. */
async function runSetsOnce(runner: ModelRunner, batch: InputBatch, sourceOf: Map<string, string>, modelPath: string) {
  const outputs: Array<Record<string, HostArray>> = [];
  for (const set of batch.sets) {
    const prepared = await runner.prepare(inputSetFor(set, runner.inputs, sourceOf, modelPath));
    try {
      outputs.push(runner.read(await runner.run(prepared)));
    } finally {
      runner.release(prepared);
    }
  }
  return outputs;
}

async function measureModelOf(request: BenchmarkRequest, model: CheckedModel, batches: InputBatch[], options: RunnerOptions): Promise<ModelBenchmark> {
  const files = await modelFileSizes(model.located);
  const spec: ModelMeasurementSpec = {
    model: model.located,
    batches,
    sourceOf: model.sourceOf,
    warmup: request.warmup,
    runs: request.runs,
    durationSeconds: request.durationSeconds,
    concurrency: request.concurrency,
  };
  const measured = request.inProcess ? await measureModel(spec, options, barProgress(request.progress), request.inProcess.runners) : await measureInChild(spec, request.runner, request.device, request.progress);
  if (measured.error) request.log.warn(`${model.path} failed: ${measured.error}`);
  return {
    path: model.path,
    format: model.format,
    runtime: model.runtime,
    status: measured.error ? 'failed' : 'ok',
    error: measured.error,
    sizeBytes: await totalFileBytes(files.map((file) => file.path)),
    files,
    sessionCreateMs: measured.sessionCreateMs,
    memory: measured.memory,
    settings: model.settings,
    inputsByPosition: model.inputsByPosition,
    measurements: measured.measurements,
    comparison: null,
  };
}

function addComparisons(models: ModelBenchmark[], checked: CheckedModel[]): void {
  const baseline = models[0]!;
  for (const [index, model] of models.entries()) {
    if (index === 0) continue;
    const speedups = model.measurements.flatMap((measurement) => {
      const reference = baseline.measurements.find((other) => other.batchSize === measurement.batchSize && other.concurrency === measurement.concurrency);
      return reference
        ? [{ batchSize: measurement.batchSize, concurrency: measurement.concurrency, p50: reference.latencyMs.p50 / measurement.latencyMs.p50, mean: reference.latencyMs.mean / measurement.latencyMs.mean }]
        : [];
    });
    const footprints = [baseline.memory.footprintBytes, model.memory.footprintBytes];
    model.comparison = {
      ...checked[index]!.agreement!,
      speedups,
      sizeRatio: model.sizeBytes / baseline.sizeBytes,
      memoryRatio: footprints.every((bytes) => bytes !== null && bytes > 0) && baseline.status === 'ok' && model.status === 'ok' ? footprints[1]! / footprints[0]! : null,
    };
  }
}
