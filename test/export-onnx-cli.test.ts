import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { fixturesDir, nodeModules } from './support/repo-paths.js';
import { linesOf, runCli } from './support/run-cli.js';

/** `modelpress export-onnx` as a user runs it: output, --json, exit codes, refusals. */

const CNN = path.join(fixturesDir, 'tfjs-layers-cnn', 'model.json');
const UPSCALER = path.join(nodeModules, '@upscalerjs', 'default-model', 'models', 'model.json');
let folder: string;

describe('modelpress export-onnx', () => {
  before(async () => {
    folder = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-export-cli-'));
  });
  after(() => fs.rm(folder, { recursive: true, force: true }));

  test('exports a LayersModel, verifies it and prints the per-output errors', async () => {
    const output = path.join(folder, 'cnn.onnx');
    const result = await runCli(['export-onnx', CNN, '-o', output]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Verification passed/);
    assert.match(result.stdout, /classes\s+\S+\s+\S+/);
    const session = await ort.InferenceSession.create(output);
    assert.deepEqual(session.inputNames, ['image']);
    assert.deepEqual(session.outputNames, ['classes']);
    await session.release();
  });

  test('refuses to overwrite an existing output without --force, and replaces it with --force', async () => {
    const output = path.join(folder, 'exists.onnx');
    await fs.writeFile(output, 'keep me');
    const refused = await runCli(['export-onnx', CNN, '-o', output, '--no-verify']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refusing to overwrite existing .*exists\.onnx \(pass --force/);
    assert.equal(await fs.readFile(output, 'utf8'), 'keep me');
    const forced = await runCli(['export-onnx', CNN, '-o', output, '--no-verify', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(await fs.readFile(output, 'utf8'), 'keep me');
  });

  test('never writes over its input, even with --force', async () => {
    const copy = path.join(folder, 'copy');
    await fs.cp(path.dirname(CNN), copy, { recursive: true });
    const shard = (await fs.readdir(copy)).find((name) => name.endsWith('.bin'))!;
    const result = await runCli(['export-onnx', path.join(copy, 'model.json'), '-o', path.join(copy, shard), '--force']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /it is an input of this command/);
  });

  test('an opset outside 13..21 is a usage error', async () => {
    const result = await runCli(['export-onnx', CNN, '-o', path.join(folder, 'x.onnx'), '--opset', '12']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--opset '12': expected an integer 13-21/);
  });

  test('an input with open image size needs --shape to verify; with it the upscaler verifies', async () => {
    const output = path.join(folder, 'upscaler.onnx');
    const missing = await runCli(['export-onnx', UPSCALER, '-o', output]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--shape LR=/);
    assert.equal(existsSync(output), false, 'nothing is written when verification inputs cannot be made');
    const result = await runCli(['export-onnx', UPSCALER, '-o', output, '--shape', 'LR=1x12x10x3', '--nchw', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.layout, 'nchw');
    assert.equal(report.transposes.after, 0);
    assert.equal(report.verification.passed, true);
  });

  test('--json report with --data inputs; --tolerance 0 turns any difference into exit 1 with the model still written', async () => {
    const data = path.join(folder, 'inputs.json');
    const image = Array.from({ length: 36 }, (_, index) => Math.sin(index));
    await fs.writeFile(data, JSON.stringify([{ image: [image.map((value) => [value])].map((rows) => Array.from({ length: 6 }, (_, row) => rows.slice(row * 6, row * 6 + 6))) }]));
    const output = path.join(folder, 'data.onnx');
    const result = await runCli(['export-onnx', CNN, '-o', output, '--data', data, '--json', '--opset', '13']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.kind, 'layers-model');
    assert.equal(report.opset, 13);
    assert.equal(report.layout, 'nhwc');
    assert.equal(report.transposes.after, 2);
    assert.equal(report.verification.passed, true);
    assert.equal(report.verification.outputs[0].output, 'classes');
    assert.ok(report.verification.outputs[0].relativeError <= 1e-4);
    assert.equal(report.verification.inputs, data);
    assert.equal(report.verification.samples, 1);
    const strict = await runCli(['export-onnx', CNN, '-o', path.join(folder, 'strict.onnx'), '--tolerance', '0']);
    assert.equal(strict.code, 1);
    assert.match(linesOf(strict.stderr).at(-1)!, /verification failed: classes relative error \S+ > tolerance 0/);
    assert.equal(existsSync(path.join(folder, 'strict.onnx')), true);
  });

  test('unsupported layers are listed in one error line, and nothing is written', async () => {
    const copy = path.join(folder, 'custom');
    await fs.cp(path.dirname(CNN), copy, { recursive: true });
    const json = JSON.parse(await fs.readFile(path.join(copy, 'model.json'), 'utf8'));
    for (const layer of json.modelTopology.config.layers) {
      if (layer.class_name === 'ReLU') layer.class_name = 'MyRelu';
      if (layer.class_name === 'Dense') layer.config.activation = 'crelu';
    }
    await fs.writeFile(path.join(copy, 'model.json'), JSON.stringify(json));
    const output = path.join(folder, 'custom.onnx');
    const result = await runCli(['export-onnx', path.join(copy, 'model.json'), '-o', output, '--no-verify']);
    assert.equal(result.code, 1);
    const lines = linesOf(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /cannot export 2 unsupported constructs: layer MyRelu at relu; activation crelu at classes/);
    assert.equal(existsSync(output), false);
  });
});
