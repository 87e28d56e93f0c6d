import { messageOf } from '../errors.js';
import type { LocatedModel } from '../model-format.js';
import type { ModelRunner, RunnerOptions } from '../runners/model-runner.js';
import { RUNNERS } from '../runners/runner-table.js';
import type { InputBatch } from './benchmark-inputs.js';
import { inputSetFor } from './benchmark-inputs.js';
import type { Measurement, ModelMemory } from './benchmark-result.js';
import { processGpuMemoryBytes } from './gpu-memory.js';
import { latencyStatistics } from './latency-statistics.js';
import { measureRuns } from './measure-runs.js';

/**
 * The timed pass for one model: load it, then for every batch size and concurrency warm up and time the
 * runs. Runs in a process of its own (measure-model-child.ts) so that its memory figures are its own and
 * nothing another model left behind (allocator state, thread pools) touches its times.
 */
export interface ModelMeasurementSpec {
  model: LocatedModel;
  batches: InputBatch[];
  /** Model input name -> the fed input's name. */
  sourceOf: Map<string, string>;
  warmup: number;
  runs?: number;
  durationSeconds?: number;
  concurrency: number[];
}

export interface ModelMeasurement {
  sessionCreateMs: number | null;
  memory: ModelMemory;
  measurements: Measurement[];
  /** The error that stopped the measurements (those finished before it are kept), else null. */
  error: string | null;
}

export interface MeasurementProgress {
  /** A measurement starts: `units` warm-up plus timed units (runs, or tenths of a second with a duration). */
  start(label: string, units: number): void;
  update(done: number): void;
  stop(): void;
}

export type RunnerTable = Record<LocatedModel['family'], (modelPath: string, options: RunnerOptions) => Promise<ModelRunner>>;

export async function measureModel(
  spec: ModelMeasurementSpec,
  options: RunnerOptions,
  progress: MeasurementProgress,
  runners: RunnerTable = RUNNERS,
): Promise<ModelMeasurement> {
  // The engine first: its start-up is the same for every TF.js model and is not the model's footprint.
  if (spec.model.family === 'tfjs') await options.engine();
  const rssBefore = process.memoryUsage.rss();
  const result: ModelMeasurement = {
    sessionCreateMs: null,
    memory: { rssBeforeLoadBytes: rssBefore, loadBytes: null, footprintBytes: null, peakRssBytes: null, gpuMemoryBytes: null },
    measurements: [],
    error: null,
  };
  let peakRss = rssBefore;
  try {
    const loadStart = performance.now();
    const runner = await runners[spec.model.family](spec.model.file, options);
    result.sessionCreateMs = performance.now() - loadStart;
    const rssAfterLoad = process.memoryUsage.rss();
    result.memory.loadBytes = rssAfterLoad - rssBefore;
    peakRss = Math.max(peakRss, rssAfterLoad);
    try {
      for (const batch of spec.batches) {
        const prepared: unknown[] = [];
        try {
          for (const set of batch.sets) prepared.push(await runner.prepare(inputSetFor(set, runner.inputs, spec.sourceOf, spec.model.file)));
          for (const concurrency of spec.concurrency) {
            const measurement = await measureOne(spec, runner, prepared, batch.batchSize, concurrency, progress);
            result.measurements.push(measurement);
            peakRss = Math.max(peakRss, measurement.rss.peakBytes);
          }
        } finally {
          for (const inputs of prepared) runner.release(inputs);
        }
      }
      const onGpu = runner.settings.device === 'gpu' || (runner.runtime === 'onnxruntime' && runner.settings.provider !== 'cpu');
      if (onGpu) result.memory.gpuMemoryBytes = processGpuMemoryBytes();
    } finally {
      await runner.dispose();
    }
  } catch (error) {
    result.error = messageOf(error).split('\n')[0]!;
  }
  // maxRSS (Linux: KiB) also catches a peak between two samples.
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
  result.memory.peakRssBytes = peakRss;
  result.memory.footprintBytes = peakRss - rssBefore;
  addThroughputScaling(result.measurements);
  return result;
}

async function measureOne(
  spec: ModelMeasurementSpec,
  runner: ModelRunner,
  prepared: unknown[],
  batchSize: number,
  concurrency: number,
  progress: MeasurementProgress,
): Promise<Measurement> {
  // A duration's progress counts tenths of a second; a run count's counts runs.
  const timedUnits = spec.runs ?? Math.ceil(spec.durationSeconds! * 10);
  progress.start(`${spec.model.file} batch ${batchSize}${concurrency > 1 ? ` x${concurrency}` : ''}`, spec.warmup + timedUnits);
  let timedStart = 0;
  try {
    const window = await measureRuns(runner, prepared, {
      warmup: spec.warmup,
      runs: spec.runs,
      durationSeconds: spec.durationSeconds,
      concurrency,
      onProgress: (done) => {
        if (spec.runs !== undefined || done <= spec.warmup) return progress.update(done);
        timedStart ||= performance.now();
        progress.update(spec.warmup + Math.min(timedUnits, Math.floor((performance.now() - timedStart) / 100)));
      },
    });
    const runs = window.latenciesMs.length;
    const seconds = window.wallMs / 1000;
    return {
      batchSize,
      concurrency,
      runs,
      wallSeconds: seconds,
      latencyMs: latencyStatistics(window.latenciesMs),
      throughput: { runsPerSecond: runs / seconds, samplesPerSecond: (runs * batchSize) / seconds },
      throughputScaling: null,
      cpuUtilization: window.cpuMs / window.wallMs,
      rss: { ...window.rss, growthBytes: window.rss.endBytes - window.rss.startBytes },
    };
  } finally {
    progress.stop();
  }
}

/** Throughput over the same batch size's at its lowest concurrency measured. */
function addThroughputScaling(measurements: Measurement[]): void {
  for (const measurement of measurements) {
    const reference = measurements
      .filter((other) => other.batchSize === measurement.batchSize)
      .reduce<Measurement | undefined>((lowest, other) => (!lowest || other.concurrency < lowest.concurrency ? other : lowest), undefined);
    if (reference && reference !== measurement) measurement.throughputScaling = measurement.throughput.runsPerSecond / reference.throughput.runsPerSecond;
  }
}
