import type { ModelFormatName } from '../inspect/model-description.js';
import type { OutputError } from '../quantize/quantize-report.js';
import type { RuntimeName } from '../runners/model-runner.js';
import type { BenchmarkEnvironment } from './environment.js';
import type { LatencyStatistics } from './latency-statistics.js';

/**
 * What `modelpress benchmark` reports, and its --json / --json-file document. docs/benchmark-result.schema.json
 * describes the same shape; a test validates real output against it, so a field added here goes there too.
 * Times are milliseconds, sizes bytes, ratios candidate / baseline.
 */
export interface BenchmarkResult {
  tool: 'modelpress benchmark';
  version: string;
  /** ISO 8601 time the run started. */
  startedAt: string;
  environment: BenchmarkEnvironment;
  settings: BenchmarkSettings;
  /** What was fed, per batch size (the same to every model). */
  inputs: BenchmarkInputBatch[];
  /** In command-line order; the first is the baseline of every comparison. */
  models: ModelBenchmark[];
  gates: GateOutcome[];
  /** No model failed and no gate fired. */
  passed: boolean;
}

export interface BenchmarkSettings {
  warmup: number;
  /** Timed runs per measurement, or null when the length is a duration. */
  runs: number | null;
  durationSeconds: number | null;
  batchSizes: number[];
  concurrency: number[];
  inputSource: 'generated' | 'data';
  dataFile: string | null;
  /** Distinct input sets cycled through by the runs (and all compared for accuracy). */
  inputSets: number;
  /** How percentiles are computed. */
  percentileMethod: 'linear-interpolation';
}

export interface BenchmarkInputBatch {
  batchSize: number;
  inputs: Array<{ name: string; dtype: string; shape: number[]; defaulted: string[] }>;
}

export interface ModelBenchmark {
  path: string;
  format: ModelFormatName;
  runtime: RuntimeName;
  /** failed: an error stopped its measurements; those completed before it are kept. */
  status: 'ok' | 'failed';
  error: string | null;
  /** Model file plus external data / weight shards. */
  sizeBytes: number;
  files: Array<{ path: string; bytes: number }>;
  /** Time to create the session / load the model, with the files in the page cache. */
  sessionCreateMs: number | null;
  memory: ModelMemory;
  /** Runner settings (provider, threads / tfjs engine and backend). */
  settings: Record<string, string | number | boolean | null>;
  /** Model input name -> the fed input it took, when matched by position. */
  inputsByPosition: Record<string, string> | null;
  measurements: Measurement[];
  /** Against the first model; null for the first model itself. */
  comparison: ModelComparison | null;
}

export interface ModelMemory {
  /** Process RSS just before the model was loaded. */
  rssBeforeLoadBytes: number | null;
  /** RSS right after loading, less rssBeforeLoadBytes. */
  loadBytes: number | null;
  /** Highest RSS seen during the model's measurements, less rssBeforeLoadBytes: its memory footprint. */
  footprintBytes: number | null;
  peakRssBytes: number | null;
  /** GPU memory this process held after the runs (nvidia-smi), when a GPU runner was active; else null. */
  gpuMemoryBytes: number | null;
}

export interface Measurement {
  batchSize: number;
  concurrency: number;
  runs: number;
  wallSeconds: number;
  latencyMs: LatencyStatistics;
  throughput: { runsPerSecond: number; samplesPerSecond: number };
  /** Throughput over the same batch size's at the lowest concurrency measured; null for that one itself. */
  throughputScaling: number | null;
  /** Process CPU time over wall time in the timed window: 1 = one core busy. */
  cpuUtilization: number;
  rss: { startBytes: number; endBytes: number; peakBytes: number; growthBytes: number };
}

export interface ModelComparison {
  baseline: string;
  /** Per measurement both models completed: baseline latency / this model's latency (above 1: faster). */
  speedups: Array<{ batchSize: number; concurrency: number; p50: number; mean: number }>;
  sizeRatio: number;
  /** Memory footprint over the baseline's; null when either has none. */
  memoryRatio: number | null;
  /** Output agreement with the baseline on the same inputs, per output (worst cosine and max error over the input sets). */
  outputs: OutputError[];
  cosine: number | null;
  maxAbsError: number | null;
  meanAbsError: number | null;
  top1Agreement: number | null;
  /** Why outputs could not be compared (different output count, shapes), else null. */
  accuracyError: string | null;
}

export interface GateOutcome {
  expression: string;
  passed: boolean;
  /** One line per model / measurement where the condition held, e.g. "cand.onnx batch 1: speedup 1.12 < 1.3". */
  failures: string[];
}
