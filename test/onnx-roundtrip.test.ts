import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { decodeModelProto } from '../src/onnx/onnx-proto.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { ONNX_SAMPLES, runOnnx, samplePath } from './support/onnx-samples.js';

let workDir: string;
before(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-roundtrip-'));
});
after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

describe('ONNX save/load round trip', () => {
  for (const [file, feeds] of Object.entries(ONNX_SAMPLES)) {
    it(`${file}: same protobuf content and bit-identical onnxruntime outputs after load + save`, async () => {
      const source = samplePath(file);
      const model = await loadOnnxModel(source);
      const output = path.join(workDir, `roundtrip-${file}`);
      await saveOnnxModel(model, output);

      // Semantically identical: both files decode to the same messages (external data aside).
      const before = decodeModelProto(await fs.readFile(source));
      const after = decodeModelProto(await fs.readFile(output));
      if (!file.includes('external')) assert.deepStrictEqual(after, before);
      else assert.deepStrictEqual(after.graph?.node, before.graph?.node);

      const expected = await runOnnx(source, feeds());
      const actual = await runOnnx(output, feeds());
      assert.deepStrictEqual(Object.keys(actual), Object.keys(expected));
      for (const name of Object.keys(expected)) {
        assert.ok(expected[name]!.length > 0);
        assert.ok(actual[name]!.equals(expected[name]!), `output ${name} differs after the round trip`);
      }
    });
  }

  it('the loaded model is not changed by saving it (it still describes its input files)', async () => {
    const model = await loadOnnxModel(samplePath('mlp-external.onnx'));
    const before = JSON.stringify(model.proto.graph?.initializer?.map((tensor) => tensor.external_data));
    await saveOnnxModel(model, path.join(workDir, 'inline.onnx'), { externalData: 'never' });
    assert.equal(JSON.stringify(model.proto.graph?.initializer?.map((tensor) => tensor.external_data)), before);
  });
});
