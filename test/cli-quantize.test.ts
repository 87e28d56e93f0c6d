import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { allNodes } from '../src/onnx/graph-walk.js';
import type { QuantizeReport } from '../src/quantize/quantize-report.js';
import { encodeModelProto } from '../src/onnx/onnx-proto.js';
import { buildMlp } from '../fixtures/onnx/build-onnx-fixtures.js';
import { fixturesDir } from './support/repo-paths.js';
import { linesOf, runCli } from './support/run-cli.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-cli-quantize-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const fixture = (name: string) => path.join(fixturesDir, name);

describe('modelpress quantize (command line)', () => {
  it('--json prints the report on stdout only; the model runs and --report writes the same report', async () => {
    const output = path.join(dir, 'gpt.int4.onnx');
    const reportFile = path.join(dir, 'report.json');
    const result = await runCli(['--json', 'quantize', fixture('gpt-block.onnx'), '-o', output, '--scheme', 'int4', '--report', reportFile]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as QuantizeReport;
    assert.equal(report.scheme, 'int4');
    assert.equal(report.tensors.quantized, 6);
    assert.ok(report.size.after < report.size.before * 0.5);
    assert.ok(report.verification!.outputs[0]!.cosine > 0.97);
    assert.deepStrictEqual(JSON.parse(await fs.readFile(reportFile, 'utf8')), report);
    const model = await loadOnnxModel(output);
    assert.equal([...allNodes(model.proto)].filter((node) => node.op_type === 'MatMulNBits').length, 6);
  });

  it('a failed quality gate exits 1 after writing the model and saying which gate failed', async () => {
    const output = path.join(dir, 'gpt.int4.onnx');
    const result = await runCli(['quantize', fixture('gpt-block.onnx'), '-o', output, '--scheme', 'int4', '--min-cosine', '0.99999']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /Output error/);
    assert.match(linesOf(result.stderr).at(-1)!, /^modelpress: error: quality gate failed: output 'logits': cosine .* < --min-cosine 0\.99999$/);
  });

  it('an unknown scheme is a usage error (exit 2) and writes nothing', async () => {
    const result = await runCli(['quantize', fixture('gpt-block.onnx'), '-o', path.join(dir, 'x.onnx'), '--scheme', 'int3']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /argument 'int3' is invalid/);
    assert.deepStrictEqual(await fs.readdir(dir), []);
  });

  it('a model with nothing to quantize: one clear line, exit 1, no output', async () => {
    const result = await runCli(['quantize', fixture('cnn-batchnorm.onnx'), '-o', path.join(dir, 'x.onnx'), '--scheme', 'int4']);
    assert.equal(result.code, 1);
    assert.deepStrictEqual(linesOf(result.stderr).filter((line) => line.startsWith('modelpress: error:')).length, 1);
    assert.match(result.stderr, /nothing to quantize in .*cnn-batchnorm\.onnx with --scheme int4/);
    assert.deepStrictEqual(await fs.readdir(dir), []);
  });

  for (const [label, bad] of [['NaN', NaN], ['Infinity', Infinity]] as const) {
    it(`a ${label} weight: a clear error naming the tensor, exit 1, no output`, async () => {
      const proto = buildMlp();
      const weight = proto.graph!.initializer!.find((tensor) => tensor.name === 'fc2.weight')!;
      const values = new Float32Array(new Uint8Array(weight.raw_data!).buffer);
      values[5] = bad;
      weight.raw_data = new Uint8Array(values.buffer);
      const input = path.join(dir, 'bad.onnx');
      await fs.writeFile(input, encodeModelProto(proto));
      const output = path.join(dir, 'out.onnx');
      const result = await runCli(['quantize', input, '-o', output, '--scheme', 'int8', '--no-verify']);
      assert.equal(result.code, 1);
      assert.match(linesOf(result.stderr).at(-1)!, new RegExp(`weight 'fc2\\.weight' holds ${label} at element 5: cannot quantize non-finite values`));
      assert.deepStrictEqual((await fs.readdir(dir)).sort(), ['bad.onnx']);
    });
  }

  it('a scheme for the other format is a usage error', async () => {
    const result = await runCli(['quantize', fixture('gpt-block.onnx'), '-o', path.join(dir, 'x.onnx'), '--scheme', 'uint8']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--scheme uint8 does not apply to ONNX models/);
  });

  it('refuses to overwrite the input and an existing output without --force', async () => {
    const input = path.join(dir, 'in.onnx');
    await fs.copyFile(fixture('gpt-block.onnx'), input);
    const same = await runCli(['quantize', input, '-o', input, '--scheme', 'int4', '--force']);
    assert.equal(same.code, 1);
    assert.match(same.stderr, /it is an input of this command/);
    const existing = path.join(dir, 'out.onnx');
    await fs.writeFile(existing, 'keep');
    const refused = await runCli(['quantize', input, '-o', existing, '--scheme', 'int4']);
    assert.equal(refused.code, 1);
    assert.equal(await fs.readFile(existing, 'utf8'), 'keep');
  });

  it('an output folder that does not exist: one clear line, exit 1, nothing created', async () => {
    const result = await runCli(['quantize', fixture('mlp-external.onnx'), '-o', path.join(dir, 'missing', 'out.onnx'), '--scheme', 'int8']);
    assert.equal(result.code, 1);
    assert.deepStrictEqual(linesOf(result.stderr), [`modelpress: error: cannot write ${path.join(dir, 'missing', 'out.onnx')}: the folder ${path.join(dir, 'missing')} does not exist`]);
    assert.deepStrictEqual(await fs.readdir(dir), []);
  });

  it('TF.js: a failed run removes the output folder it created', async () => {
    const output = path.join(dir, 'tfjs-out');
    const result = await runCli(['quantize', fixture('tfjs-graph-mlp'), '-o', output, '--scheme', 'uint8', '--include', 'no-such-weight']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /nothing to quantize/);
    assert.deepStrictEqual(await fs.readdir(dir), []);
  });

  it('TF.js: uint8 writes a model.json in the output folder with the tfjs-converter manifest and a note', async () => {
    const output = path.join(dir, 'tfjs-uint8');
    const result = await runCli(['--json', 'quantize', fixture('tfjs-layers-mlp'), '-o', output, '--scheme', 'uint8']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as QuantizeReport;
    assert.match(report.notes.join(' '), /dequantizes .* when the model loads/);
    const manifest = JSON.parse(await fs.readFile(path.join(output, 'model.json'), 'utf8')).weightsManifest;
    const spec = manifest[0].weights[0];
    assert.equal(spec.dtype, 'float32');
    assert.equal(spec.quantization.dtype, 'uint8');
    assert.equal(spec.quantization.original_dtype, 'float32');
    assert.ok(report.verification!.outputs[0]!.cosine > 0.999);
  });
});
