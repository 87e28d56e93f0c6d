import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTfjsFixtures } from '../fixtures/tfjs/build-tfjs-fixtures.js';
import { FormatError, ModelpressError, OutputRefusedError } from '../src/errors.js';
import { describeTfjsModel } from '../src/inspect/describe-tfjs.js';
import { loadTfjsModel, streamTfjsWeights, tfjsModelFiles, type TfjsWeightEntry } from '../src/tfjs/load-tfjs-model.js';
import { saveTfjsModel } from '../src/tfjs/save-tfjs-model.js';

let workDir: string;
let graphFixture: string;
let caseNumber = 0;

before(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-tfjs-bad-'));
  await buildTfjsFixtures(path.join(workDir, 'fixtures'));
  graphFixture = path.join(workDir, 'fixtures', 'tfjs-graph-mlp');
});

after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

/** A fresh copy of the graph fixture (two groups, one shard each), damaged by `damage`. */
async function damagedModel(damage: (folder: string, modelJson: string) => Promise<void>): Promise<string> {
  const folder = path.join(workDir, `case-${++caseNumber}`, 'input');
  await fs.cp(graphFixture, folder, { recursive: true });
  const modelJson = path.join(folder, 'model.json');
  await damage(folder, modelJson);
  return modelJson;
}

async function editJson(modelJson: string, edit: (json: any) => void): Promise<void> {
  const json = JSON.parse(await fs.readFile(modelJson, 'utf8'));
  edit(json);
  await fs.writeFile(modelJson, JSON.stringify(json));
}

/** Copy a model the way every command will: load it, then stream its weights into a new folder. */
async function copyModel(modelJson: string, outputFolder: string, force = false): Promise<void> {
  const model = await loadTfjsModel(modelJson);
  await saveTfjsModel(path.join(outputFolder, 'model.json'), model.json, streamTfjsWeights(model), { inputPaths: tfjsModelFiles(model), force });
}

/** The copy and describe both fail with a one-line ModelpressError naming the file; nothing is written. */
async function assertRefused(modelJson: string, expected: RegExp, errorClass: typeof ModelpressError = FormatError): Promise<void> {
  const outputFolder = path.join(path.dirname(path.dirname(modelJson)), 'output');
  await fs.mkdir(outputFolder, { recursive: true });
  for (const attempt of [() => copyModel(modelJson, outputFolder), () => describeTfjsModel(modelJson)]) {
    await assert.rejects(attempt(), (error: unknown) => {
      assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
      assert.ok(error.message.includes(modelJson), `message names the file: ${error.message}`);
      assert.match(error.message, expected);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    });
  }
  assert.deepEqual(await fs.readdir(outputFolder), [], 'no partial output');
}

describe('unreadable model.json', () => {
  test('an empty file', async () => {
    await assertRefused(await damagedModel((_, modelJson) => fs.writeFile(modelJson, '')), /file is empty/);
  });

  test('a file of whitespace', async () => {
    await assertRefused(await damagedModel((_, modelJson) => fs.writeFile(modelJson, ' \n\t')), /file is empty/);
  });

  test('truncated JSON', async () => {
    const modelJson = await damagedModel(async (_, file) => {
      const text = await fs.readFile(file, 'utf8');
      await fs.writeFile(file, text.slice(0, text.length / 2));
    });
    await assertRefused(modelJson, /not valid JSON/);
  });

  test('bytes that are not JSON at all', async () => {
    await assertRefused(await damagedModel((_, file) => fs.writeFile(file, Buffer.from([0x08, 0x07, 0x12, 0x00, 0xff, 0xfe]))), /not valid JSON/);
  });

  test('JSON that is not a TF.js model', async () => {
    await assertRefused(await damagedModel((_, file) => fs.writeFile(file, '{"name":"left-pad","version":"1.3.0"}')), /not a TF\.js model: it has no "modelTopology"/);
    await assertRefused(await damagedModel((_, file) => fs.writeFile(file, '[1, 2, 3]')), /not a TF\.js model/);
    await assertRefused(await damagedModel((_, file) => fs.writeFile(file, '{"modelTopology":{"layers":[]}}')), /neither a Keras config .* nor a graph/);
  });

  test('an unknown format name', async () => {
    await assertRefused(await damagedModel((_, file) => editJson(file, (json) => (json.format = 'saved-model'))), /unsupported TF\.js format "saved-model"/);
  });

  test('a weight spec with an unknown dtype or an impossible shape', async () => {
    const badDtype = await damagedModel((_, file) => editJson(file, (json) => (json.weightsManifest[0].weights[1].dtype = 'float64')));
    await assertRefused(badDtype, /weightsManifest\[0\]\.weights\[1\] \("hidden\/bias"\): unsupported dtype "float64"/);
    const badShape = await damagedModel((_, file) => editJson(file, (json) => (json.weightsManifest[0].weights[1].shape = [-16])));
    await assertRefused(badShape, /"hidden\/bias"\): "shape" must be a list of non-negative integers/);
  });
});

describe('weight shards', () => {
  test('a missing shard', async () => {
    const modelJson = await damagedModel((folder) => fs.rm(path.join(folder, 'group2-shard1of1.bin')));
    await assertRefused(modelJson, /weight shard "group2-shard1of1\.bin" is missing/);
  });

  test('a shard shorter than the manifest says', async () => {
    const modelJson = await damagedModel(async (folder) => {
      const shard = path.join(folder, 'group1-shard1of1.bin');
      const bytes = await fs.readFile(shard);
      await fs.writeFile(shard, bytes.subarray(0, bytes.length - 1));
    });
    await assertRefused(modelJson, /shards of group 1 hold 191 bytes but the manifest's weights need 192.*group1-shard1of1\.bin \(191 bytes\)/);
  });

  test('a manifest listing fewer shards than its weights need', async () => {
    const modelJson = await damagedModel((_, file) => editJson(file, (json) => (json.weightsManifest[1].paths = [])));
    await assertRefused(modelJson, /shards of group 2 hold 0 bytes but the manifest's weights need 144/);
  });

  test('shard paths that climb out of the model folder, even to a file that exists', async () => {
    const modelJson = await damagedModel(async (folder, file) => {
      await fs.copyFile(path.join(folder, 'group1-shard1of1.bin'), path.join(folder, '..', 'outside.bin'));
      await editJson(file, (json) => (json.weightsManifest[0].paths = ['../outside.bin']));
    });
    await assertRefused(modelJson, /weight shard path "\.\.\/outside\.bin" leaves the model's folder/);
    const nested = await damagedModel((_, file) => editJson(file, (json) => (json.weightsManifest[0].paths = ['sub/../../outside.bin'])));
    await assertRefused(nested, /"sub\/\.\.\/\.\.\/outside\.bin" leaves the model's folder/);
  });

  test('a shard that is a symlink to a file outside the model folder', async () => {
    const modelJson = await damagedModel(async (folder) => {
      const shard = path.join(folder, 'group1-shard1of1.bin');
      const outside = path.join(folder, '..', 'elsewhere.bin');
      await fs.rename(shard, outside);
      await fs.symlink(outside, shard);
    });
    await assertRefused(modelJson, /"group1-shard1of1\.bin" leaves the model's folder/);
  });

  test('absolute shard paths', async () => {
    const modelJson = await damagedModel(async (folder, file) => {
      const absolute = path.join(folder, 'group1-shard1of1.bin');
      await editJson(file, (json) => (json.weightsManifest[0].paths = [absolute]));
    });
    await assertRefused(modelJson, /leaves the model's folder/);
  });
});

describe('failures while writing leave no partial output', () => {
  async function outputFolder(): Promise<string> {
    const folder = path.join(workDir, `case-${++caseNumber}`, 'output');
    await fs.mkdir(folder, { recursive: true });
    return folder;
  }

  test('a weight stream that fails part-way', async () => {
    const model = await loadTfjsModel(path.join(graphFixture, 'model.json'));
    const folder = await outputFolder();
    async function* failing(): AsyncGenerator<TfjsWeightEntry> {
      let count = 0;
      for await (const entry of streamTfjsWeights(model)) {
        if (++count === 4) throw new ModelpressError('rewrite pass failed on output/bias');
        yield entry;
      }
    }
    await assert.rejects(saveTfjsModel(path.join(folder, 'model.json'), model.json, failing(), { shardBytes: 64 }), /rewrite pass failed/);
    assert.deepEqual(await fs.readdir(folder), []);
  });

  test('a weight whose bytes do not match its spec', async () => {
    const model = await loadTfjsModel(path.join(graphFixture, 'model.json'));
    const folder = await outputFolder();
    async function* mismatched(): AsyncGenerator<TfjsWeightEntry> {
      for await (const entry of streamTfjsWeights(model)) {
        yield entry.spec.name === 'output/kernel' ? { ...entry, bytes: entry.bytes.subarray(1) } : entry;
      }
    }
    await assert.rejects(saveTfjsModel(path.join(folder, 'model.json'), model.json, mismatched()), (error: unknown) => {
      assert.ok(error instanceof ModelpressError);
      assert.match(error.message, /model\.json: cannot save weight "output\/kernel" \(float32 \[16,4\], float16 quantized\) has 127 bytes, its spec needs 128/);
      return true;
    });
    assert.deepEqual(await fs.readdir(folder), []);
  });
});

describe('outputs that would destroy something are refused', () => {
  async function fingerprint(folder: string): Promise<Record<string, string>> {
    const names = (await fs.readdir(folder)).sort();
    const entries = await Promise.all(
      names.map(async (name) => [name, createHash('sha256').update(await fs.readFile(path.join(folder, name))).digest('hex')] as const),
    );
    return Object.fromEntries(entries);
  }

  test('writing over the input model, even with force', async () => {
    const modelJson = await damagedModel(async () => {});
    const folder = path.dirname(modelJson);
    const before = await fingerprint(folder);
    for (const force of [false, true]) {
      await assert.rejects(copyModel(modelJson, folder, force), (error: unknown) => error instanceof OutputRefusedError && /it is an input/.test(error.message));
    }
    assert.deepEqual(await fingerprint(folder), before);
  });

  test('an existing output without force; replaced with force', async () => {
    const modelJson = await damagedModel(async () => {});
    const folder = path.join(path.dirname(path.dirname(modelJson)), 'existing');
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(path.join(folder, 'model.json'), 'keep me');
    await assert.rejects(copyModel(modelJson, folder), (error: unknown) => error instanceof OutputRefusedError && /pass --force/.test(error.message));
    assert.deepEqual(await fs.readdir(folder), ['model.json']);
    assert.equal(await fs.readFile(path.join(folder, 'model.json'), 'utf8'), 'keep me');
    await copyModel(modelJson, folder, true);
    assert.deepEqual((await fs.readdir(folder)).sort(), ['group1-shard1of1.bin', 'group2-shard1of1.bin', 'model.json']);
  });

  test('an existing shard file is found after the weights are written, and nothing is left behind', async () => {
    const modelJson = await damagedModel(async () => {});
    const folder = path.join(path.dirname(path.dirname(modelJson)), 'existing-shard');
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(path.join(folder, 'group2-shard1of1.bin'), 'someone else\'s shard');
    await assert.rejects(copyModel(modelJson, folder), (error: unknown) => error instanceof OutputRefusedError && /group2-shard1of1\.bin/.test(error.message));
    assert.deepEqual(await fs.readdir(folder), ['group2-shard1of1.bin']);
    assert.equal(await fs.readFile(path.join(folder, 'group2-shard1of1.bin'), 'utf8'), 'someone else\'s shard');
  });
});
