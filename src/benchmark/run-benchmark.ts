import { readFileSync } from 'node:fs';
import type { DeviceChoice } from '../engine/device-choice.js';
import type { EngineInfo } from '../engine/tensor-engine.js';
import { UsageError } from '../errors.js';
import { totalFileBytes } from '../io/file-sizes.js';
import { locateModel } from '../model-format.js';
import type { RunnerOptions } from '../runners/model-runner.js';
import type { Logger } from '../terminal/logger.js';
import type { ProgressFactory } from '../terminal/progress.js';
import type { InputBatch } from './benchmark-inputs.js';
import type { BenchmarkResult, ModelBenchmark } from './benchmark-result.js';
import { checkModels, type CheckedModel } from './check-models.js';
import { captureEnvironment } from './environment.js';
import { checkGatesApply, evaluateGates, type Gate } from './gates.js';
import { barProgress, measureInChild } from './measure-in-child.js';
import { measureModel, type ModelMeasurementSpec, type RunnerTable } from './measure-model.js';
import { modelFileSizes } from './model-files.js';

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
