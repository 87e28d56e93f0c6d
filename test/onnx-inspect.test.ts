import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { describe, it } from 'node:test';
import { describeOnnxModel } from '../src/inspect/describe-onnx.js';
import { independentWeightElementCount } from './support/independent-onnx-count.js';
import { ONNX_SAMPLES, samplePath } from './support/onnx-samples.js';

/** Parameter counts worked out by hand from each fixture's architecture (see fixtures/onnx). */
const ARCHITECTURE_COUNTS: Record<string, number> = {
  'mlp.onnx': 16 * 32 + 32 + 32 * 8 + 8,
  'mlp-external.onnx': 32 * 64 + 64 + 64 * 16 + 16,
  'cnn-batchnorm.onnx': 8 * 3 * 9 + 8 + 4 * 8 + (16 * 8 * 9 + 16 + 4 * 16) + (10 * 16 + 10),
  'gpt-block.onnx': 64 * 32 + 8 * 32 + 3 * 2 * 32 + 4 * (32 * 32 + 32) + (32 * 128 + 128) + (128 * 32 + 32) + 8 * 8 + 4 + 7,
  'constant-weights.onnx': 8 * 4 + 4,
  'if-subgraph.onnx': 16 + 4 + 1,
  'float16-linear.onnx': 64,
};

describe('inspect (ONNX)', () => {
  for (const file of Object.keys(ONNX_SAMPLES)) {
    it(`${file}: parameter count matches an independent count of the protobuf`, async () => {
      const description = await describeOnnxModel(samplePath(file));
      const expected = ARCHITECTURE_COUNTS[file] ?? independentWeightElementCount(await fs.readFile(samplePath(file)));
      assert.equal(description.parameters.count, expected);
      if (ARCHITECTURE_COUNTS[file]) assert.equal(independentWeightElementCount(await fs.readFile(samplePath(file))), expected);
      const byDtypeTotal = Object.values(description.parameters.byDtype).reduce((sum, totals) => sum + totals.parameters, 0);
      assert.equal(byDtypeTotal, expected);
    });
  }

  it('reports format, opsets, symbolic shapes, operators, bytes by dtype and the largest tensors', async () => {
    const description = await describeOnnxModel(samplePath('gpt-block.onnx'));
    assert.equal(description.format, 'onnx');
    assert.deepStrictEqual(description.formatVersion.opsets, { 'ai.onnx': 17 });
    assert.deepStrictEqual(description.inputs, [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 8] }]);
    assert.deepStrictEqual(description.outputs, [{ name: 'logits', dtype: 'float32', shape: ['batch', 8, 64] }]);
    assert.equal(description.operators.MatMul, 9);
    assert.equal(description.operators.LayerNormalization, 3);
    assert.equal(description.parameters.byDtype.int64?.parameters, 7);
    assert.equal(description.parameters.byDtype.float32?.bytes, description.parameters.byDtype.float32!.parameters * 4);
    assert.equal(description.largestTensors.length, 10);
    assert.equal(description.largestTensors[0]!.bytes, 32 * 128 * 4);
    for (let i = 1; i < description.largestTensors.length; i++) {
      assert.ok(description.largestTensors[i - 1]!.bytes >= description.largestTensors[i]!.bytes);
    }
  });

  it('counts Constant-node weights and lists external data files with their sizes', async () => {
    const constants = await describeOnnxModel(samplePath('constant-weights.onnx'));
    assert.equal(constants.operators.Constant, 2);
    assert.deepStrictEqual(constants.largestTensors.map((tensor) => tensor.name), ['W', 'b']);
    const external = await describeOnnxModel(samplePath('mlp-external.onnx'));
    const dataSize = (await fs.stat(`${samplePath('mlp-external.onnx')}.data`)).size;
    assert.deepStrictEqual(external.dataFiles, [{ path: 'mlp-external.onnx.data', bytes: dataSize }]);
  });

  it('PP-OCR recognizer: weights are all Constant nodes and the attention MatMuls are seen', async () => {
    const description = await describeOnnxModel(samplePath('ch_PP-OCRv4_rec_infer.onnx'));
    assert.ok(description.operators.Constant! > 300);
    assert.ok(description.operators.MatMul! >= 10);
    assert.ok(description.parameters.count > 2_000_000);
    assert.equal(typeof description.inputs[0]!.shape![0], 'string', 'dynamic batch stays symbolic');
  });
});
