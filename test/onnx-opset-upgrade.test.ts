import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../src/onnx/builders.js';
import { opsetVersion } from '../src/onnx/graph.js';
import { allNodes } from '../src/onnx/graph-walk.js';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { opsetUpgradeBlocker, upgradeDefaultOpset } from '../src/onnx/opset-upgrade.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { ONNX_SAMPLES, runOnnx, samplePath } from './support/onnx-samples.js';

describe('default opset upgrade', () => {
  it('PP-OCRv4 rec (opset 9) raised to 11: Slice and Clip rewritten, onnxruntime output unchanged', async () => {
    const file = samplePath('ch_PP-OCRv4_rec_infer.onnx');
    const model = await loadOnnxModel(file);
    const upgrade = upgradeDefaultOpset(model.proto, 11);
    assert.equal(upgrade.from, 9);
    assert.ok(upgrade.adapted.Slice! > 0 && upgrade.adapted.Clip! > 0, JSON.stringify(upgrade.adapted));
    assert.equal(opsetVersion(model.proto, ''), 11);
    for (const node of allNodes(model.proto)) {
      if (node.op_type === 'Slice' || node.op_type === 'Clip') assert.deepStrictEqual(node.attribute, [], `${node.name} keeps attributes`);
    }
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-opset-'));
    try {
      const output = path.join(dir, 'rec11.onnx');
      await saveOnnxModel(model, output);
      const feeds = ONNX_SAMPLES['ch_PP-OCRv4_rec_infer.onnx']!;
      const [before, after] = [await runOnnx(file, feeds()), await runOnnx(output, feeds())];
      for (const name of Object.keys(before)) assert.ok(after[name]!.equals(before[name]!), `${name} changed`);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a model with an op whose meaning changed and that it cannot rewrite', () => {
    const model = makeModel(
      makeGraph({
        name: 'upsample',
        inputs: [makeValueInfo('x', 'float32', [1, 1, 2, 2])],
        outputs: [makeValueInfo('y', 'float32', [1, 1, 4, 4])],
        nodes: [makeNode('Upsample', ['x', 'scales'], ['y'])],
      }),
      { '': 9 },
    );
    assert.match(opsetUpgradeBlocker(model, 11)!, /op Upsample .* changed between opset 9 and 11/);
    assert.throws(() => upgradeDefaultOpset(model, 11), /Upsample/);
    assert.equal(opsetVersion(model, ''), 9, 'nothing changed');
  });
});
