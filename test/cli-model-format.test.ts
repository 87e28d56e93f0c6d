import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelpressError } from '../src/errors.js';
import { locateModel } from '../src/model-format.js';

describe('locateModel', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'modelpress-format-'));
    await writeFile(path.join(dir, 'net.onnx'), '');
    await writeFile(path.join(dir, 'NET.ONNX'), '');
    await writeFile(path.join(dir, 'weights.json'), '{}');
    await writeFile(path.join(dir, 'frozen.pb'), '');
    await mkdir(path.join(dir, 'tfjs-model'));
    await writeFile(path.join(dir, 'tfjs-model', 'model.json'), '{}');
    await mkdir(path.join(dir, 'empty'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('.onnx is ONNX, whatever the case of the extension', async () => {
    assert.deepEqual(await locateModel(path.join(dir, 'net.onnx')), { family: 'onnx', file: path.join(dir, 'net.onnx') });
    assert.equal((await locateModel(path.join(dir, 'NET.ONNX'))).family, 'onnx');
  });

  test('.json is TF.js (layers or graph is for describeTfjsModel to tell)', async () => {
    assert.deepEqual(await locateModel(path.join(dir, 'weights.json')), { family: 'tfjs', file: path.join(dir, 'weights.json') });
  });

  test('a folder stands for the model.json inside it', async () => {
    assert.deepEqual(await locateModel(path.join(dir, 'tfjs-model')), {
      family: 'tfjs',
      file: path.join(dir, 'tfjs-model', 'model.json'),
    });
  });

  test('another extension, or a folder without model.json, says what was expected', async () => {
    for (const name of ['frozen.pb', 'empty']) {
      const target = path.join(dir, name);
      await assert.rejects(locateModel(target), (error: unknown) => {
        assert.ok(error instanceof ModelpressError);
        assert.equal(error.message, `cannot tell the model format of ${target} (expected .onnx or TF.js model.json)`);
        return true;
      });
    }
  });

  test('a missing path is "no such file", exit code 1', async () => {
    const target = path.join(dir, 'gone.onnx');
    await assert.rejects(locateModel(target), (error: unknown) => {
      assert.ok(error instanceof ModelpressError);
      assert.equal(error.message, `${target}: no such file`);
      assert.equal(error.exitCode, 1);
      return true;
    });
  });
});
