import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBenchmark, type BenchmarkRequest } from '../src/benchmark/run-benchmark.js';
import { lazyEngine } from '../src/engine/select-engine.js';
import { renderBenchmark } from '../src/benchmark/render-benchmark.js';
import type { ModelRunner } from '../src/runners/model-runner.js';
import { RUNNERS } from '../src/runners/runner-table.js';
import { createLogger } from '../src/terminal/logger.js';
import { loadBenchmarkSchema, validateAgainstSchema } from './support/benchmark-json-schema.js';
import { identicalCopy, MLP } from './support/benchmark-models.js';

/** The real onnxruntime runner, except that run() throws from its `failAt`-th call on (a device lost mid-run). */
function failingFrom(runner: ModelRunner, failAt: number): ModelRunner {
  let calls = 0;
  return {
    ...runner,
    run: async (prepared) => {
      if (++calls >= failAt) throw new Error('simulated device loss\nsecond line of a native trace');
      return runner.run(prepared);
    },
  };
}

describe('benchmark: a model failing mid-run', () => {
  let dir: string;
  let failing: string;
  let healthy: string;
  const warnings: string[] = [];

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-benchmark-fail-'));
    failing = await identicalCopy(dir);
    healthy = path.join(dir, 'healthy.onnx');
    await fs.copyFile(MLP, healthy);
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  function request(): BenchmarkRequest {
    return {
      models: [MLP, failing, healthy],
      runner: { provider: 'cpu', cudaGraph: false, engine: lazyEngine('cpu') },
      warmup: 2,
      runs: 10,
      batchSizes: [1, 2],
      concurrency: [1],
      shapes: {},
      inputSets: 2,
      gates: [],
      device: 'cpu',
      log: { ...createLogger({ quiet: true }), warn: (message) => warnings.push(message) },
      progress: () => ({ update() {}, increment() {}, stop() {} }),
      inProcess: {
        runners: {
          ...RUNNERS,
          // The check pass has already run every model once; this runner fails during the timed runs.
          onnx: async (file, options) => {
            const runner = await RUNNERS.onnx(file, options);
            return file === failing ? failingFrom(runner, 2 + 10 + 5) : runner;
          },
        },
      },
    };
  }

  it('is reported as failed with its error, keeps what it measured, and the models after it still complete', async () => {
    const result = await runBenchmark(request());
    const [baseline, broken, after] = result.models;
    assert.equal(broken!.status, 'failed');
    assert.equal(broken!.error, 'simulated device loss');
    // Batch 1 finished (2 warm-up + 10 timed runs); batch 2 failed in its warm-up.
    assert.deepEqual(broken!.measurements.map((measurement) => measurement.batchSize), [1]);
    assert.deepEqual(broken!.comparison!.speedups.map((speedup) => speedup.batchSize), [1]);
    // Its outputs were checked before timing: the comparison still says how far they are.
    assert.equal(broken!.comparison!.cosine, 1);
    assert.equal(after!.status, 'ok');
    assert.deepEqual(after!.measurements.map((measurement) => [measurement.batchSize, measurement.runs]), [[1, 10], [2, 10]]);
    assert.equal(baseline!.status, 'ok');
    assert.equal(result.passed, false);
    assert.deepEqual(warnings, [`${failing} failed: simulated device loss`]);
    assert.deepEqual(validateAgainstSchema(result, loadBenchmarkSchema()), []);
    assert.match(renderBenchmark(result), new RegExp(`FAILED ${failing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: simulated device loss`));
  });
});
