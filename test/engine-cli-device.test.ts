import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { linesOf, runCli } from './support/run-cli.js';

// inspect loads the engine after locating the model and before reading it, so an empty .onnx file is
// enough to reach engine selection; what happens after (describing an empty file) is not checked here.
describe('--device on the command line', () => {
  let model = '';
  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'modelpress-device-'));
    model = path.join(dir, 'empty.onnx');
    await writeFile(model, '');
  });
  after(() => rm(path.dirname(model), { recursive: true, force: true }));

  test('gpu without tfjs-node-gpu: exit 1, one line saying how to install it', async () => {
    const result = await runCli(['--device', 'gpu', 'inspect', model]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const lines = linesOf(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /^modelpress: error: --device gpu needs @tensorflow\/tfjs-node-gpu.*`npm install @tensorflow\/tfjs-node-gpu`.*CUDA/);
  });

  test('an unknown device is a usage error, exit 2, naming the choices', async () => {
    const result = await runCli(['inspect', model, '--device', 'tpu']);
    assert.equal(result.code, 2);
    assert.deepEqual(linesOf(result.stderr), [
      "modelpress: error: option '--device <device>' argument 'tpu' is invalid. Allowed choices are auto, gpu, cpu.",
    ]);
  });

  test('auto picks wasm here, as --verbose reports', async () => {
    const result = await runCli(['--verbose', 'inspect', model]);
    assert.match(result.stderr, /modelpress: debug: engine tfjs-node-gpu unavailable: not installed/);
    assert.match(result.stderr, /modelpress: debug: engine: wasm \(tfjs backend wasm, cpu\) for --device auto/);
  });

  test('an engine is only loaded by commands that need one', async () => {
    const result = await runCli(['--verbose', '--device', 'gpu', 'prune']);
    assert.deepEqual(linesOf(result.stderr).slice(0, 1), ['modelpress: error: modelpress prune: not implemented yet']);
    assert.doesNotMatch(result.stderr, /engine/);
  });
});
