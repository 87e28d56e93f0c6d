import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Measurement, ModelBenchmark } from '../src/benchmark/benchmark-result.js';
import { checkGatesApply, evaluateGates, GATE_METRICS, parseGate } from '../src/benchmark/gates.js';
import { latencyStatistics } from '../src/benchmark/latency-statistics.js';
import { UsageError } from '../src/errors.js';

function measurement(batchSize: number, concurrency: number, latencies: number[]): Measurement {
  const latencyMs = latencyStatistics(latencies);
  return {
    batchSize,
    concurrency,
    runs: latencies.length,
    wallSeconds: latencies.reduce((sum, value) => sum + value, 0) / 1000,
    latencyMs,
    throughput: { runsPerSecond: 1000 / latencyMs.mean, samplesPerSecond: (1000 * batchSize) / latencyMs.mean },
    throughputScaling: null,
    cpuUtilization: 1,
    rss: { startBytes: 100, endBytes: 100, peakBytes: 100, growthBytes: 0 },
  };
}

function model(path: string, overrides: Partial<ModelBenchmark> = {}): ModelBenchmark {
  return {
    path,
    format: 'onnx',
    runtime: 'onnxruntime',
    status: 'ok',
    error: null,
    sizeBytes: 4_000_000,
    files: [{ path, bytes: 4_000_000 }],
    sessionCreateMs: 5,
    memory: { rssBeforeLoadBytes: 1, loadBytes: 1, footprintBytes: 20_000_000, peakRssBytes: 2, gpuMemoryBytes: null },
    settings: {},
    inputsByPosition: null,
    measurements: [measurement(1, 1, [10, 10, 10, 10])],
    comparison: null,
    ...overrides,
  };
}

/** A baseline at 10 ms and a candidate at 8 ms (speedup 1.25), 1/4 the size, 0.999 cosine, 95% top-1. */
function pair(): ModelBenchmark[] {
  const candidate = model('candidate.onnx', {
    sizeBytes: 1_000_000,
    measurements: [measurement(1, 1, [8, 8, 8, 8, 8, 8, 8, 8, 8, 60])],
    comparison: {
      baseline: 'base.onnx',
      speedups: [{ batchSize: 1, concurrency: 1, p50: 1.25, mean: 10 / 13.2 }],
      sizeRatio: 0.25,
      memoryRatio: 0.5,
      outputs: [{ output: 'y', cosine: 0.999, maxAbsError: 0.02, meanAbsError: 0.001, top1Agreement: 0.95 }],
      cosine: 0.999,
      maxAbsError: 0.02,
      meanAbsError: 0.001,
      top1Agreement: 0.95,
      accuracyError: null,
    },
  });
  return [model('base.onnx'), candidate];
}

/** For every metric, one condition that holds on pair()'s candidate and one that does not. */
const CASES: Record<string, [fires: string, passes: string]> = {
  speedup: ['speedup<1.3', 'speedup<1.2'],
  speedup_mean: ['speedup_mean<1', 'speedup_mean<0.7'],
  cosine: ['cosine<0.9999', 'cosine<0.998'],
  max_abs_error: ['max_abs_error>0.01', 'max_abs_error>0.05'],
  mean_abs_error: ['mean_abs_error>=0.001', 'mean_abs_error>0.001'],
  top1: ['top1<0.99', 'top1<0.9'],
  size_ratio: ['size_ratio>0.2', 'size_ratio>0.3'],
  memory_ratio: ['memory_ratio>0.4', 'memory_ratio>0.6'],
  mean_ms: ['mean_ms>13', 'mean_ms>13.5'],
  p50_ms: ['p50_ms>7.5', 'p50_ms>8'],
  p90_ms: ['p90_ms>13.1', 'p90_ms>13.3'], // position 8.1 of [8 x9, 60]: 8 + 0.1 * 52
  p95_ms: ['p95_ms>30', 'p95_ms>40'], // position 8.55: 8 + 0.55 * 52 = 36.6
  p99_ms: ['p99_ms>50', 'p99_ms>60'], // position 8.91: 8 + 0.91 * 52 = 55.32
  max_ms: ['max_ms==60', 'max_ms!=60'],
  runs_per_s: ['runs_per_s<100', 'runs_per_s<50'],
  samples_per_s: ['samples_per_s<100', 'samples_per_s<70'],
  size_mb: ['size_mb>0.5', 'size_mb>1'],
  footprint_mb: ['footprint_mb>=20', 'footprint_mb<20'],
};

describe('--fail-if gates', () => {
  it('every metric has a firing and a passing case here', () => {
    assert.deepEqual(Object.keys(CASES).sort(), Object.keys(GATE_METRICS).sort());
  });

  for (const [metric, [fires, passes]] of Object.entries(CASES)) {
    it(`${metric}: "${fires}" fires naming the model and value, "${passes}" passes`, () => {
      const [fired, passed] = evaluateGates([parseGate(fires), parseGate(passes)], pair());
      assert.equal(fired!.passed, false);
      assert.equal(fired!.failures.length, 1);
      assert.match(fired!.failures[0]!, new RegExp(`^candidate\\.onnx.*: ${metric} `));
      assert.deepEqual(passed, { expression: passes, passed: true, failures: [] });
    });
  }

  it('the baseline is not judged when there is a candidate; a single model is judged itself', () => {
    const [onPair] = evaluateGates([parseGate('p50_ms>9')], pair());
    assert.equal(onPair!.passed, true); // the baseline's 10 ms does not count
    const [alone] = evaluateGates([parseGate('p50_ms>9')], [model('base.onnx')]);
    assert.deepEqual(alone!.failures, ['base.onnx batch 1: p50_ms 10 > 9']);
  });

  it('a failed model or a metric that was not measured fails the gate rather than passing it', () => {
    const models = pair();
    models[1] = { ...models[1]!, status: 'failed', error: 'boom', measurements: [], comparison: { ...models[1]!.comparison!, speedups: [], top1Agreement: null } };
    const [speedup, top1] = evaluateGates([parseGate('speedup<1.1'), parseGate('top1<0.5')], models);
    assert.deepEqual(speedup!.failures, ['candidate.onnx: the model failed']);
    assert.deepEqual(top1!.failures, ['candidate.onnx: the model failed']);
  });

  it('parses spaces, <= >= == != and exponents; names are case-insensitive', () => {
    assert.deepEqual(parseGate(' P99_ms >= 1e2 '), { expression: 'P99_ms >= 1e2', metric: 'p99_ms', operator: '>=', limit: 100 });
    assert.equal(parseGate('cosine!=1').operator, '!=');
    assert.equal(parseGate('speedup<.5').limit, 0.5);
  });

  for (const malformed of ['speedup', 'speedup<', '<1.3', 'speedup=<1.3', 'speedup<1.3x', 'speedup<<1', 'speed up<1', '']) {
    it(`"${malformed}" is a usage error (exit 2)`, () => {
      assert.throws(() => parseGate(malformed), (error: unknown) => error instanceof UsageError && error.exitCode === 2 && /expected METRIC OP NUMBER/.test(error.message));
    });
  }

  it('an unknown metric is a usage error listing the metrics', () => {
    assert.throws(() => parseGate('latency<3'), (error: unknown) => error instanceof UsageError && /unknown metric 'latency'.*speedup, speedup_mean/.test(error.message));
  });

  it('a comparison gate with one model is a usage error; a latency gate is fine', () => {
    assert.throws(() => checkGatesApply([parseGate('cosine<0.99')], 1), UsageError);
    checkGatesApply([parseGate('p99_ms>50')], 1);
    checkGatesApply([parseGate('cosine<0.99')], 2);
  });
});
