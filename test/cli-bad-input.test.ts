import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeModelProto, encodeModelProto } from '../src/onnx/onnx-proto.js';
import { fixturesDir } from './support/repo-paths.js';
import { linesOf, runCli } from './support/run-cli.js';

/**
 * Bad input through the real CLI: each case must give one clear line on stderr naming the file (and the
 * tensor where there is one), exit 1, nothing on stdout and no stack trace.
 */

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-bad-input-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function inspectFails(file: string, message: RegExp) {
  const result = await runCli(['inspect', file]);
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, '');
  const lines = linesOf(result.stderr);
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^modelpress: error: /);
  assert.match(lines[0]!, message);
}

async function copyExternalFixture(name: string): Promise<string> {
  const folder = path.join(dir, name);
  await fs.mkdir(folder);
  const model = path.join(folder, 'mlp-external.onnx');
  await fs.copyFile(path.join(fixturesDir, 'mlp-external.onnx'), model);
  await fs.copyFile(path.join(fixturesDir, 'mlp-external.onnx.data'), `${model}.data`);
  return model;
}

describe('bad ONNX input on the command line', () => {
  it('an empty file', async () => {
    const file = path.join(dir, 'empty.onnx');
    await fs.writeFile(file, '');
    await inspectFails(file, /empty\.onnx: empty file/);
  });

  it('a truncated file', async () => {
    const bytes = await fs.readFile(path.join(fixturesDir, 'gpt-block.onnx'));
    const file = path.join(dir, 'truncated.onnx');
    await fs.writeFile(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await inspectFails(file, /truncated\.onnx: not a valid ONNX model/);
  });

  it('random bytes', async () => {
    const file = path.join(dir, 'random.onnx');
    await fs.writeFile(file, randomBytes(4096));
    await inspectFails(file, /random\.onnx: not (a valid )?(an )?ONNX model/);
  });

  it('a missing external data file', async () => {
    const model = await copyExternalFixture('missing');
    await fs.rm(`${model}.data`);
    await inspectFails(model, /tensor 'fc1\.weight': external data file .*mlp-external\.onnx\.data is missing/);
  });

  it('an external data path escaping the folder', async () => {
    const model = await copyExternalFixture('escape');
    const proto = decodeModelProto(await fs.readFile(model));
    for (const tensor of proto.graph!.initializer!) {
      for (const entry of tensor.external_data ?? []) if (entry.key === 'location') entry.value = '../../etc/passwd';
    }
    await fs.writeFile(model, encodeModelProto(proto));
    await inspectFails(model, /external data location '\.\.\/\.\.\/etc\/passwd' escapes the model's folder/);
  });

  it('a JSON file that is not a model', async () => {
    const file = path.join(dir, 'package.json');
    await fs.writeFile(file, JSON.stringify({ name: 'not-a-model', version: '1.0.0' }));
    await inspectFails(file, /package\.json/);
  });
});
