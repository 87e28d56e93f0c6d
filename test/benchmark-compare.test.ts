import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BenchmarkResult } from '../src/benchmark/benchmark-result.js';
import { loadBenchmarkSchema, validateAgainstSchema } from './support/benchmark-json-schema.js';
import { identicalCopy, MLP, onnxTwinOfTfjsMlp, perturbedMlp, TFJS_LAYERS_MLP } from './support/benchmark-models.js';
import { ANSI_ESCAPE, linesOf, runCli } from './support/run-cli.js';

/** Few runs: these tests check what is compared and reported, not how fast anything is. */
const QUICK = ['--runs', '3', '--warmup', '1'];

async function benchmarkJson(args: string[]): Promise<{ result: BenchmarkResult; code: number | null; stderr: string }> {
  const run = await runCli(['--json', 'benchmark', ...args, ...QUICK]);
  assert.ok(run.stdout.trim().startsWith('{'), `no JSON on stdout (exit ${run.code}): ${run.stderr}`);
  return { result: JSON.parse(run.stdout) as BenchmarkResult, code: run.code, stderr: run.stderr };
}

describe('benchmark: comparison with the first model', () => {
  let dir: string;
  let copy: string;
  let perturbed: string;
  let twin: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-benchmark-'));
    [copy, perturbed, twin] = await Promise.all([identicalCopy(dir), perturbedMlp(dir), onnxTwinOfTfjsMlp(dir)]);
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('an identical copy: cosine 1, max error 0, top-1 100%, size ratio 1; its gates pass (exit 0); the JSON fits the schema', async () => {
    const { result, code } = await benchmarkJson([MLP, copy, '--batch-size', '1,4', '--fail-if', 'cosine<1', '--fail-if', 'max_abs_error>0', '--fail-if', 'top1<1']);
    assert.equal(code, 0);
    assert.deepEqual(validateAgainstSchema(result, loadBenchmarkSchema()), []);
    const comparison = result.models[1]!.comparison!;
    assert.equal(comparison.cosine, 1);
    assert.equal(comparison.maxAbsError, 0);
    assert.equal(comparison.meanAbsError, 0);
    assert.equal(comparison.top1Agreement, 1);
    assert.equal(comparison.sizeRatio, 1);
    assert.equal(result.models[0]!.comparison, null);
    assert.deepEqual(comparison.speedups.map((speedup) => speedup.batchSize), [1, 4]);
    assert.ok(comparison.speedups.every((speedup) => speedup.p50 > 0 && speedup.mean > 0));
    assert.deepEqual(result.settings.batchSizes, [1, 4]);
    assert.deepEqual(result.inputs.map((batch) => batch.inputs[0]!.shape), [[1, 16], [4, 16]]);
    for (const model of result.models) {
      assert.equal(model.status, 'ok');
      assert.deepEqual(model.measurements.map((measurement) => [measurement.batchSize, measurement.runs]), [[1, 3], [4, 3]]);
      const [batch1, batch4] = model.measurements;
      // samples/s is runs/s times the batch
      assert.ok(Math.abs(batch4!.throughput.samplesPerSecond - 4 * batch4!.throughput.runsPerSecond) < 1e-6 * batch4!.throughput.samplesPerSecond);
      assert.equal(batch1!.throughput.samplesPerSecond, batch1!.throughput.runsPerSecond);
      assert.ok(model.sessionCreateMs! > 0);
      assert.ok(model.memory.footprintBytes! > 0 && model.memory.peakRssBytes! > model.memory.rssBeforeLoadBytes!);
      assert.equal(model.sizeBytes, (await fs.stat(model.path)).size);
    }
    assert.deepEqual(result.gates.map((gate) => gate.passed), [true, true, true]);
    assert.equal(result.passed, true);
  });

  it('a model with one weight changed: cosine below 1, top-1 changes, and the gates on them fire (exit 1, condition named)', async () => {
    const { result, code, stderr } = await benchmarkJson([MLP, perturbed, '--batch-size', '16', '--fail-if', 'cosine<0.9999', '--fail-if', 'top1<1', '--fail-if', 'size_ratio>1']);
    assert.equal(code, 1);
    const comparison = result.models[1]!.comparison!;
    assert.ok(comparison.cosine! < 0.9999, `cosine ${comparison.cosine}`);
    assert.ok(comparison.maxAbsError! > 0.01);
    assert.ok(comparison.top1Agreement! < 1, `top-1 ${comparison.top1Agreement}`);
    assert.deepEqual(comparison.outputs.map((output) => output.output), ['probabilities']);
    assert.deepEqual(result.gates.map((gate) => [gate.expression, gate.passed]), [['cosine<0.9999', false], ['top1<1', false], ['size_ratio>1', true]]);
    const error = linesOf(stderr).at(-1)!;
    assert.match(error, /^modelpress: error: gate failed: cosine<0\.9999 \(.*mlp-perturbed\.onnx: cosine 0\.\d+ < 0\.9999\); gate failed: top1<1 /);
  });

  it('across formats: a TF.js layers model and its ONNX twin with other input and output names agree (matched by position)', async () => {
    const { result, code } = await benchmarkJson([TFJS_LAYERS_MLP, twin, '--batch-size', '8']);
    assert.equal(code, 0);
    assert.deepEqual(validateAgainstSchema(result, loadBenchmarkSchema()), []);
    const [tfjs, onnx] = result.models;
    assert.equal(tfjs!.format, 'tfjs-layers');
    assert.equal(tfjs!.runtime, 'tfjs');
    assert.equal(onnx!.runtime, 'onnxruntime');
    assert.deepEqual(onnx!.inputsByPosition, { x: 'features' });
    const comparison = onnx!.comparison!;
    assert.ok(comparison.cosine! > 0.99999, `cosine ${comparison.cosine}`);
    assert.ok(comparison.maxAbsError! < 1e-5, `max error ${comparison.maxAbsError}`);
    assert.equal(comparison.top1Agreement, 1);
    // Size on disk counts the TF.js shards with model.json.
    const tfjsFiles = await fs.readdir(TFJS_LAYERS_MLP);
    assert.equal(tfjs!.files.length, tfjsFiles.length);
    assert.equal(tfjs!.sizeBytes, (await Promise.all(tfjsFiles.map((file) => fs.stat(path.join(TFJS_LAYERS_MLP, file))))).reduce((sum, stats) => sum + stats.size, 0));
    assert.ok(result.environment.engine !== null);
    assert.equal(typeof result.environment.tfjs, 'string');
  });

  it('--data: the file\'s samples go to every model; --threads and the environment are recorded', async () => {
    const data = path.join(path.dirname(MLP), '..', 'calibration', 'mlp-samples.npz');
    const { result, code } = await benchmarkJson([MLP, copy, '--data', data, '--threads', '1']);
    assert.equal(code, 0);
    assert.equal(result.settings.inputSource, 'data');
    assert.equal(result.settings.inputSets, 4);
    assert.deepEqual(result.inputs, [{ batchSize: 3, inputs: [{ name: 'input', dtype: 'float32', shape: [3, 16], defaulted: [] }] }]);
    assert.equal(result.models[1]!.comparison!.maxAbsError, 0);
    const environment = result.environment;
    assert.equal(environment.intraOpThreads, 1);
    assert.equal(environment.provider, 'cpu');
    assert.equal(environment.node, process.version);
    assert.match(environment.onnxruntime, /^\d+\.\d+\.\d+/);
    assert.ok(environment.cpu.logicalCores >= 1 && environment.cpu.model.length > 0);
    assert.equal(result.models[0]!.settings.intraOpThreads, 1);
  });

  it('--concurrency 2 measures 1 and 2 in flight and reports the throughput scaling; --duration times by the clock', async () => {
    const run = await runCli(['--json', 'benchmark', MLP, '--concurrency', '2', '--duration', '0.2', '--warmup', '1']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as BenchmarkResult;
    const [single, double] = result.models[0]!.measurements;
    assert.deepEqual([single!.concurrency, double!.concurrency], [1, 2]);
    assert.equal(single!.throughputScaling, null);
    assert.ok(Math.abs(double!.throughputScaling! - double!.throughput.runsPerSecond / single!.throughput.runsPerSecond) < 1e-9);
    assert.equal(result.settings.runs, null);
    assert.equal(result.settings.durationSeconds, 0.2);
    for (const measurement of [single!, double!]) {
      assert.ok(measurement.wallSeconds >= 0.2 && measurement.runs === measurement.latencyMs.count && measurement.runs > 1);
      assert.ok(measurement.cpuUtilization > 0);
    }
  });

  it('piped: a plain table (no colour, no progress bar); --markdown, --csv and --json-file written, refused again without --force', async () => {
    const markdown = path.join(dir, 'result.md');
    const csv = path.join(dir, 'result.csv');
    const json = path.join(dir, 'result.json');
    const outputs = ['--markdown', markdown, '--csv', csv, '--json-file', json];
    const run = await runCli(['benchmark', MLP, perturbed, ...QUICK, ...outputs]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes(ANSI_ESCAPE) && !run.stderr.includes(ANSI_ESCAPE));
    assert.match(run.stdout, /Latency \(ms\) and throughput/);
    assert.match(run.stdout, /mlp-perturbed\.onnx\s+onnx \(onnxruntime\)\s+ok/);
    assert.match(await fs.readFile(markdown, 'utf8'), /^## modelpress benchmark[\s\S]*\| model \| batch \| conc \| p50 \|[\s\S]*\| ---: \|/);
    const rows = (await fs.readFile(csv, 'utf8')).trim().split('\n').map((line) => line.split(','));
    assert.equal(rows.length, 3);
    const header = rows[0]!;
    assert.equal(rows[2]![header.indexOf('model')], perturbed);
    assert.ok(Number(rows[2]![header.indexOf('cosine')]) < 1);
    assert.equal(rows[1]![header.indexOf('cosine')], '');
    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(validateAgainstSchema(written, loadBenchmarkSchema()), []);
    assert.equal(written.models.length, 2);

    const again = await runCli(['benchmark', MLP, ...QUICK, ...outputs]);
    assert.equal(again.code, 1);
    assert.equal(linesOf(again.stderr).length, 1);
    assert.match(again.stderr, /refusing to overwrite existing .*result\.(md|csv|json)/);
    assert.equal((await runCli(['benchmark', MLP, ...QUICK, ...outputs, '--force'])).code, 0);
  });

  it('the schema validator itself rejects what the schema forbids', () => {
    const schema = loadBenchmarkSchema();
    const broken = { tool: 'modelpress benchmark', version: '1', extra: true };
    const errors = validateAgainstSchema(broken, schema);
    assert.ok(errors.includes("$: unexpected property 'extra'"));
    assert.ok(errors.includes("$: missing required 'models'"));
  });
});
