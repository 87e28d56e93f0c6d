import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildGptBlock } from '../fixtures/onnx/build-onnx-fixtures.js';
import { isExternal } from '../src/onnx/external-data.js';
import { loadOnnxModel, OnnxModel } from '../src/onnx/onnx-model.js';
import { decodeModelProto, encodeModelProto } from '../src/onnx/onnx-proto.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { ONNX_SAMPLES, runOnnx, samplePath } from './support/onnx-samples.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-external-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function filesIn(folder: string): Promise<string[]> {
  return (await fs.readdir(folder)).sort();
}

describe('ONNX external data', () => {
  it('inline -> external -> inline keeps every tensor byte and onnxruntime output identical', async () => {
    const source = samplePath('gpt-block.onnx');
    const external = path.join(dir, 'gpt.onnx');
    const sourceModel = await loadOnnxModel(source);
    const result = await saveOnnxModel(sourceModel, external, { externalData: 'always' });
    assert.equal(result.dataPath, path.join(dir, 'gpt.onnx.data'), 'data file is named <model>.onnx.data by default');
    const atLeastOneKiB = sourceModel.proto.graph!.initializer!.filter((tensor) => tensor.raw_data!.length >= 1024);
    assert.equal(result.externalTensors, atLeastOneKiB.length);
    assert.equal(atLeastOneKiB.length, 8);
    assert.ok(result.modelBytes < 20_000, `weights left the .onnx (${result.modelBytes} bytes)`);

    const externalModel = await loadOnnxModel(external);
    const moved = externalModel.weights().filter((weight) => isExternal(weight.tensor));
    assert.equal(moved.length, result.externalTensors);
    // Large tensors are aligned so runtimes can memory-map them; small ones stay inline under the threshold.
    for (const weight of externalModel.weights()) {
      const bytes = await externalModel.tensorBytes(weight.tensor);
      if (!isExternal(weight.tensor)) assert.ok(bytes.length < 1024, `${weight.name} should have gone external`);
    }

    const inline = path.join(dir, 'gpt-inline.onnx');
    await saveOnnxModel(externalModel, inline, { externalData: 'never' });
    assert.deepStrictEqual(decodeModelProto(await fs.readFile(inline)), decodeModelProto(await fs.readFile(source)));

    const feeds = ONNX_SAMPLES['gpt-block.onnx']!;
    const expected = await runOnnx(source, feeds());
    for (const file of [external, inline]) assert.ok((await runOnnx(file, feeds())).logits!.equals(expected.logits!));
  });

  it('reports progress once per tensor it writes to the data file, ending at the total', async () => {
    const calls: Array<[number, number]> = [];
    const result = await saveOnnxModel(await loadOnnxModel(samplePath('gpt-block.onnx')), path.join(dir, 'p.onnx'), {
      externalData: 'always',
      onProgress: (done, total) => calls.push([done, total]),
    });
    assert.deepStrictEqual(calls, Array.from({ length: result.externalTensors }, (_, index) => [index + 1, result.externalTensors]));
  });

  it('honours a custom data file name, and refuses one that is not a plain file name', async () => {
    const model = await loadOnnxModel(samplePath('mlp.onnx'));
    await saveOnnxModel(model, path.join(dir, 'm.onnx'), { externalData: 'always', dataFileName: 'weights.bin', sizeThreshold: 0 });
    assert.deepStrictEqual(await filesIn(dir), ['m.onnx', 'weights.bin']);
    await assert.rejects(
      saveOnnxModel(model, path.join(dir, 'n.onnx'), { externalData: 'always', dataFileName: '../weights.bin' }),
      /plain file name/,
    );
  });

  it('auto mode switches to external data when the model would pass the inline limit', async () => {
    const model = new OnnxModel(buildGptBlock(), path.join(dir, 'built.onnx'), false);
    const small = await saveOnnxModel(model, path.join(dir, 'small.onnx'), { externalData: 'auto' });
    assert.equal(small.dataPath, undefined, 'a small model stays in one file');
    const large = await saveOnnxModel(model, path.join(dir, 'large.onnx'), { externalData: 'auto', inlineLimitBytes: 10_000 });
    assert.ok(large.dataPath && large.externalTensors > 0);
  });

  it('loading does not read external data; reading a tensor reads only its range', async () => {
    const source = samplePath('mlp-external.onnx');
    const dataFile = `${source}.data`;
    const opened: string[] = [];
    const originalOpen = fs.open;
    const originalReadFile = fs.readFile;
    (fs as { open: typeof fs.open }).open = (async (file: Parameters<typeof fs.open>[0], ...rest: unknown[]) => {
      opened.push(String(file));
      return (originalOpen as (...args: unknown[]) => ReturnType<typeof fs.open>)(file, ...rest);
    }) as typeof fs.open;
    (fs as { readFile: typeof fs.readFile }).readFile = (async (file: Parameters<typeof fs.readFile>[0], ...rest: unknown[]) => {
      opened.push(String(file));
      return (originalReadFile as (...args: unknown[]) => unknown)(file, ...rest);
    }) as typeof fs.readFile;
    try {
      const model = await loadOnnxModel(source);
      assert.ok(!opened.some((file) => path.resolve(file) === dataFile), 'load opened the data file');
      const weight = model.weights().find((candidate) => candidate.name === 'fc2.weight')!;
      const bytes = await model.tensorBytes(weight.tensor);
      assert.equal(bytes.length, 64 * 16 * 4);
      assert.ok(opened.some((file) => path.resolve(file) === dataFile));
    } finally {
      (fs as { open: typeof fs.open }).open = originalOpen;
      (fs as { readFile: typeof fs.readFile }).readFile = originalReadFile;
    }
  });

  async function copyExternalFixture(): Promise<{ model: string; data: string }> {
    const model = path.join(dir, 'mlp-external.onnx');
    await fs.copyFile(samplePath('mlp-external.onnx'), model);
    await fs.copyFile(`${samplePath('mlp-external.onnx')}.data`, `${model}.data`);
    return { model, data: `${model}.data` };
  }

  async function rewriteLocation(modelPath: string, location: string) {
    const proto = decodeModelProto(await fs.readFile(modelPath));
    for (const tensor of proto.graph!.initializer!) {
      for (const entry of tensor.external_data ?? []) if (entry.key === 'location') entry.value = location;
    }
    await fs.writeFile(modelPath, encodeModelProto(proto));
  }

  it('a missing data file is a clear error naming the tensor and file', async () => {
    const { model, data } = await copyExternalFixture();
    await fs.rm(data);
    await assert.rejects(loadOnnxModel(model), /tensor 'fc1\.weight': external data file .*mlp-external\.onnx\.data is missing/);
  });

  it('a truncated data file is a clear error', async () => {
    const { model, data } = await copyExternalFixture();
    await fs.truncate(data, 100);
    await assert.rejects(loadOnnxModel(model), /external data file .* is truncated/);
  });

  for (const [label, location] of [
    ['a parent-folder path', '../secret.bin'],
    ['an absolute path', '/etc/passwd'],
    ['a nested escape', 'sub/../../secret.bin'],
  ]) {
    it(`rejects an external data location that is ${label}`, async () => {
      const { model } = await copyExternalFixture();
      await rewriteLocation(model, location!);
      await assert.rejects(loadOnnxModel(model), /escapes the model's folder/);
    });
  }

  it('rejects an external data location that escapes through a symlink', async () => {
    const { model, data } = await copyExternalFixture();
    const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-outside-'));
    try {
      await fs.rename(data, path.join(outside, 'real.data'));
      await fs.symlink(path.join(outside, 'real.data'), data);
      await assert.rejects(loadOnnxModel(model), /escapes the model's folder/);
    } finally {
      await fs.rm(outside, { recursive: true, force: true });
    }
  });
});
