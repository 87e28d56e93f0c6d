import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { samplePath } from './support/onnx-samples.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-safety-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function copyFixture(file: string): Promise<string> {
  const target = path.join(dir, file);
  await fs.copyFile(samplePath(file), target);
  if (file.includes('external')) await fs.copyFile(`${samplePath(file)}.data`, `${target}.data`);
  return target;
}

describe('ONNX save never loses data', () => {
  it('refuses to write over its own input, even with --force, and leaves the input intact', async () => {
    const input = await copyFixture('mlp.onnx');
    const before = await fs.readFile(input);
    const model = await loadOnnxModel(input);
    await assert.rejects(saveOnnxModel(model, input, { force: true }), /it is an input of this command/);
    assert.ok((await fs.readFile(input)).equals(before));
    assert.deepStrictEqual(await fs.readdir(dir), ['mlp.onnx']);
  });

  it("refuses to overwrite the input's external data file", async () => {
    const input = await copyFixture('mlp-external.onnx');
    const model = await loadOnnxModel(input);
    // A new model name whose data file would be the input's data file.
    await assert.rejects(
      saveOnnxModel(model, path.join(dir, 'other.onnx'), { force: true, dataFileName: 'mlp-external.onnx.data' }),
      /it is an input of this command/,
    );
  });

  it('refuses an existing output without force, replaces it with force', async () => {
    const input = await copyFixture('mlp.onnx');
    const output = path.join(dir, 'out.onnx');
    await fs.writeFile(output, 'keep me');
    const model = await loadOnnxModel(input);
    await assert.rejects(saveOnnxModel(model, output), /refusing to overwrite existing .*out\.onnx \(pass --force/);
    assert.equal(await fs.readFile(output, 'utf8'), 'keep me');
    await saveOnnxModel(model, output, { force: true });
    assert.ok((await fs.readFile(output)).equals(await fs.readFile(input)));
  });

  it('a failure part-way leaves no model, no data file and no temporary files', async () => {
    const input = await copyFixture('mlp-external.onnx');
    const model = await loadOnnxModel(input);
    const second = model.weights().find((weight) => weight.name === 'fc2.weight')!;
    model.setTensorData(second.tensor, async () => {
      throw new Error('disk full while producing fc2.weight');
    });
    await assert.rejects(saveOnnxModel(model, path.join(dir, 'out.onnx')), /disk full/);
    assert.deepStrictEqual((await fs.readdir(dir)).sort(), ['mlp-external.onnx', 'mlp-external.onnx.data']);
  });

  it('a rewritten tensor is produced at save time and written in place of the old data', async () => {
    const input = await copyFixture('mlp-external.onnx');
    const model = await loadOnnxModel(input);
    const weight = model.weights().find((candidate) => candidate.name === 'fc1.weight')!;
    const zeros = new Uint8Array(32 * 64 * 4);
    let produced = 0;
    model.setTensorData(weight.tensor, async () => {
      produced++;
      return zeros;
    });
    const output = path.join(dir, 'zeroed.onnx');
    await saveOnnxModel(model, output);
    assert.equal(produced, 1);
    const saved = await loadOnnxModel(output);
    const savedWeight = saved.weights().find((candidate) => candidate.name === 'fc1.weight')!;
    assert.ok(Buffer.from(await saved.tensorBytes(savedWeight.tensor)).equals(Buffer.from(zeros)));
    const other = saved.weights().find((candidate) => candidate.name === 'fc2.weight')!;
    const original = model.weights().find((candidate) => candidate.name === 'fc2.weight')!;
    assert.ok(Buffer.from(await saved.tensorBytes(other.tensor)).equals(Buffer.from(await model.tensorBytes(original.tensor))));
  });
});
