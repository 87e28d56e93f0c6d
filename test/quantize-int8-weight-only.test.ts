import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFloatTensor, makeGraph, makeModel, makeNode, makeValueInfo } from '../src/onnx/builders.js';
import { ONNX_TYPE } from '../src/onnx/data-types.js';
import { allGraphs } from '../src/onnx/graph-walk.js';
import { loadOnnxModel, OnnxModel } from '../src/onnx/onnx-model.js';
import { quantizeInt8Dynamic } from '../src/quantize/onnx/int8-dynamic.js';
import { quantizeInt8Static } from '../src/quantize/onnx/int8-static.js';
import { quantizeInt8WeightOnly } from '../src/quantize/onnx/int8-weight-only.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { WeightSelection } from '../src/quantize/weight-selection.js';
import { silentLogger } from '../src/terminal/logger.js';
import { ONNX_SAMPLES, samplePath } from './support/onnx-samples.js';
import {
  compareModels,
  findInitializer,
  floatWeightsStillRead,
  calibrationOf,
  int8Options,
  loadFixture,
  makeWorkDir,
  opTypeCounts,
  quantizeToFile,
  recognitionSamples,
  sharedBranchSamples,
  sharedBranchWeightModel,
} from './support/int8-harness.js';

let workDir: string;
before(async () => {
  workDir = await makeWorkDir();
});
after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

function linearModel(weights: Float32Array, dims: [number, number], opset: number): OnnxModel {
  const proto = makeModel(
    makeGraph({
      name: 'linear',
      inputs: [makeValueInfo('x', 'float32', ['batch', dims[0]])],
      outputs: [makeValueInfo('y', 'float32', ['batch', dims[1]])],
      initializers: [makeFloatTensor('W', dims, weights)],
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
    }),
    { '': opset },
  );
  return new OnnxModel(proto, path.join(workDir, 'linear.onnx'), false);
}

describe('int8 weight-only: stored codes', () => {
  it('saves hand-computed int8 codes and per-column scales behind DequantizeLinear(axis=1)', async () => {
    const weights = Float32Array.from([3.96875, -0.5, 0, 1.5 / 32, 1.984375, 0]);
    const { model, decisions } = await quantizeToFile(quantizeInt8WeightOnly, linearModel(weights, [2, 3], 13), int8Options(), path.join(workDir, 'codes.onnx'));
    const saved = await loadOnnxModel(path.join(workDir, 'codes.onnx'));
    const codes = findInitializer(saved, 'W_quantized')!;
    assert.equal(codes.data_type, ONNX_TYPE.INT8);
    assert.deepEqual(Array.from(codes.raw_data!), [127, 0xe0, 0, 2, 127, 0]);
    assert.deepEqual(Array.from(await saved.tensorAsFloat32(findInitializer(saved, 'W_scale')!)), [1 / 32, 1 / 64, 1]);
    assert.deepEqual(Array.from(findInitializer(saved, 'W_zero_point')!.raw_data!), [0, 0, 0]);
    const dequantize = saved.proto.graph!.node!.find((node) => node.op_type === 'DequantizeLinear')!;
    assert.equal(Number(dequantize.attribute!.find((attribute) => attribute.name === 'axis')!.i), 1);
    assert.equal(findInitializer(model, 'W'), undefined, 'the float weight is gone');
    assert.deepEqual(decisions.map((decision) => [decision.action, decision.bytesBefore, decision.bytesAfter]), [['quantized', 24, 6 + 12 + 3]]);
  });

  it('--asymmetric stores uint8 codes with a uint8 zero point per column', async () => {
    const weights = Float32Array.from([-1, 0, 0.5, 0, 3, 2.55]);
    await quantizeToFile(quantizeInt8WeightOnly, linearModel(weights, [3, 2], 13), int8Options({ symmetric: false }), path.join(workDir, 'asym.onnx'));
    const saved = await loadOnnxModel(path.join(workDir, 'asym.onnx'));
    // Column 0 [-1, 0.5, 3]: scale 4/255, zero point 64; column 1 [0, 0, 2.55]: scale 0.01, zero point 0.
    assert.equal(findInitializer(saved, 'W_quantized')!.data_type, ONNX_TYPE.UINT8);
    assert.deepEqual(Array.from(findInitializer(saved, 'W_quantized')!.raw_data!), [0, 0, 96, 0, 255, 255]);
    assert.deepEqual(Array.from(findInitializer(saved, 'W_zero_point')!.raw_data!), [64, 0]);
    assert.deepEqual(Array.from(await saved.tensorAsFloat32(findInitializer(saved, 'W_scale')!)), [Math.fround(4 / 255), Math.fround(2.55 / 255)]);
  });

  it('spells the dequantization by opset: DequantizeLinear axis from 13, per-tensor DequantizeLinear from 10, Cast+Mul below', async () => {
    const weights = Float32Array.from({ length: 12 }, (_, index) => Math.sin(index));
    const spell = async (opset: number, perChannel: boolean) => {
      const { model, decisions } = await quantizeToFile(quantizeInt8WeightOnly, linearModel(weights, [4, 3], opset), int8Options({ perChannel }), path.join(workDir, `spell-${opset}-${perChannel}.onnx`));
      assert.equal(decisions[0]!.action, 'quantized');
      return Object.keys(opTypeCounts(model)).filter((op) => op !== 'MatMul').sort().join('+');
    };
    assert.equal(await spell(13, true), 'DequantizeLinear');
    assert.equal(await spell(12, false), 'DequantizeLinear');
    assert.equal(await spell(12, true), 'Cast+Mul');
    assert.equal(await spell(9, false), 'Cast+Mul');
  });
});

describe('int8 weight-only on the fixtures (onnxruntime, float vs quantized on the same inputs)', () => {
  // Per-channel int8 RTN moves each weight by at most scale/2 = absmax/254 of its column; through two or
  // three layers that keeps the output direction within ~1e-4 (measured worst: gpt-block, 0.99989).
  for (const file of ['mlp.onnx', 'cnn-batchnorm.onnx', 'gpt-block.onnx', 'if-subgraph.onnx']) {
    it(`${file}: every MatMul/Gemm/Conv weight int8 behind DequantizeLinear, cosine >= 0.9995, same argmax`, async (t) => {
      const { model, decisions, bytes } = await quantizeToFile(quantizeInt8WeightOnly, await loadFixture(file), int8Options(), path.join(workDir, `wo-${file}`));
      const quantized = decisions.filter((decision) => decision.action === 'quantized');
      assert.ok(quantized.length > 0 && quantized.length === decisions.length, JSON.stringify(decisions));
      assert.equal(opTypeCounts(model).DequantizeLinear, quantized.length);
      assert.deepEqual(floatWeightsStillRead(model), []);
      const saved = decisions.reduce((sum, decision) => sum + decision.bytesBefore - decision.bytesAfter, 0);
      const original = (await fs.stat(samplePath(file))).size;
      // Each rewritten weight adds names and a node (~250 bytes of protobuf): only weights of some size pay off.
      if (saved > 1000) assert.ok(original - bytes >= saved - 300 * quantized.length, `file shrank ${original - bytes} bytes, weights ${saved}`);
      for (const decision of quantized) if (decision.elements >= 64) assert.ok(decision.bytesAfter < 0.4 * decision.bytesBefore);
      const errors = await compareModels(samplePath(file), path.join(workDir, `wo-${file}`), [ONNX_SAMPLES[file]!()]);
      for (const error of Object.values(errors)) {
        t.diagnostic(`${error.output}: cosine ${error.cosine.toFixed(6)}, max abs error ${error.maxAbsError.toExponential(2)}`);
        assert.ok(error.cosine >= 0.9995, `${file} ${error.output} cosine ${error.cosine}`);
        if (error.top1Agreement !== undefined) assert.equal(error.top1Agreement, 1);
      }
    });
  }

  it('if-subgraph.onnx: the MatMul inside the If branch reads the dequantized weight, the weight moved into the branch', async () => {
    const model = await loadFixture('if-subgraph.onnx');
    await quantizeInt8WeightOnly({ model, options: int8Options(), log: silentLogger });
    const branches = [...allGraphs(model.proto)].filter((location) => location.depth === 1).map((location) => location.graph);
    const then = branches.find((graph) => graph.name === 'then_branch')!;
    assert.deepEqual(then.node!.map((node) => node.op_type), ['DequantizeLinear', 'MatMul', 'Add']);
    assert.ok(then.initializer!.some((tensor) => tensor.name === 'W_outer_quantized' && tensor.data_type === ONNX_TYPE.INT8));
    assert.equal(model.proto.graph!.initializer!.length, 0);
  });

  it('a weight both If branches read stays in the outer graph; every int8 scheme serves both branches from there', async (t) => {
    const original = path.join(workDir, 'shared-branch-weight.onnx');
    await saveOnnxModel(sharedBranchWeightModel(workDir), original, { externalData: 'never', force: true });
    const samples = sharedBranchSamples();
    for (const [label, scheme] of [['int8', quantizeInt8WeightOnly], ['int8-dynamic', quantizeInt8Dynamic], ['int8-static', quantizeInt8Static]] as const) {
      const output = path.join(workDir, `shared-branch-${label}.onnx`);
      const { model, decisions } = await quantizeToFile(scheme, sharedBranchWeightModel(workDir), int8Options({ calibration: calibrationOf(samples) }), output);
      assert.deepEqual(decisions.map((decision) => decision.action), ['quantized'], `${label}: ${JSON.stringify(decisions)}`);
      assert.ok(model.proto.graph!.initializer!.some((tensor) => tensor.name === 'W_quantized'), `${label}: codes stay in the outer graph`);
      const { y } = await compareModels(original, output, samples);
      t.diagnostic(`${label}: cosine ${y!.cosine.toFixed(6)}`);
      assert.ok(y!.cosine >= 0.999, `${label} cosine ${y!.cosine}`);
    }
  });

  it('cnn-batchnorm.onnx: Gemm with transB=1 takes its scales along axis 0, Conv weights along axis 0', async () => {
    const { model } = await quantizeToFile(quantizeInt8WeightOnly, await loadFixture('cnn-batchnorm.onnx'), int8Options(), path.join(workDir, 'cnn-axes.onnx'));
    const axes = model.proto.graph!.node!.filter((node) => node.op_type === 'DequantizeLinear').map((node) => `${node.input![0]}:${node.attribute![0]!.i}`);
    assert.deepEqual(axes.sort(), ['conv1.weight_quantized:0', 'conv2.weight_quantized:0', 'fc.weight_quantized:0']);
    assert.deepEqual(findInitializer(model, 'fc.weight_scale')!.dims, [10]);
  });

  it('per-tensor and asymmetric variants run on gpt-block.onnx within bounds', async (t) => {
    for (const [label, options] of [['per-tensor', int8Options({ perChannel: false })], ['asymmetric', int8Options({ symmetric: false })]] as const) {
      const file = path.join(workDir, `gpt-${label}.onnx`);
      const { model } = await quantizeToFile(quantizeInt8WeightOnly, await loadFixture('gpt-block.onnx'), options, file);
      assert.equal(findInitializer(model, 'mlp.fc.weight_quantized')!.data_type, label === 'asymmetric' ? ONNX_TYPE.UINT8 : ONNX_TYPE.INT8);
      assert.deepEqual(findInitializer(model, 'mlp.fc.weight_scale')!.dims, label === 'per-tensor' ? [] : [128]);
      const { logits } = await compareModels(samplePath('gpt-block.onnx'), file, [ONNX_SAMPLES['gpt-block.onnx']!()]);
      t.diagnostic(`${label}: cosine ${logits!.cosine.toFixed(6)}`);
      assert.ok(logits!.cosine >= 0.999, `${label} cosine ${logits!.cosine}`);
    }
  });

  it('--exclude keeps the matching weights float, with the reason', async () => {
    const options = int8Options({ selection: new WeightSelection({ include: [], exclude: ['fc2.*'], minSize: 0 }) });
    const { decisions } = await quantizeToFile(quantizeInt8WeightOnly, await loadFixture('mlp.onnx'), options, path.join(workDir, 'exclude.onnx'));
    assert.deepEqual(
      decisions.map((decision) => [decision.weight, decision.action, decision.reason]).sort(),
      [['fc1.weight', 'quantized', undefined], ['fc2.weight', 'skipped', 'excluded by --exclude']],
    );
  });
});

describe('int8 weight-only on PP-OCRv4 rec (opset 9, weights in Constant nodes)', () => {
  it('quantizes all 38 Conv and 9 MatMul weights per channel with Cast+Mul; cosine >= 0.999 and identical argmax', async (t) => {
    const file = path.join(workDir, 'rec-int8.onnx');
    const { model, decisions, bytes } = await quantizeToFile(quantizeInt8WeightOnly, await loadFixture('ch_PP-OCRv4_rec_infer.onnx'), int8Options(), file);
    const quantized = decisions.filter((decision) => decision.action === 'quantized');
    assert.equal(quantized.length, 47);
    assert.ok(quantized.every((decision) => decision.storage === `int8 symmetric per-channel axis ${decision.opType === 'Conv' ? 0 : 1} (Cast+Mul)`));
    assert.equal(opTypeCounts(model).DequantizeLinear, undefined, 'opset 9 has no DequantizeLinear');
    assert.deepEqual(floatWeightsStillRead(model), []);
    const original = (await fs.stat(samplePath('ch_PP-OCRv4_rec_infer.onnx'))).size;
    t.diagnostic(`size ${original} -> ${bytes} bytes (${(original / bytes).toFixed(2)}x)`);
    assert.ok(bytes < original / 3.5);
    const samples = recognitionSamples();
    const { 'softmax_11.tmp_0': probabilities } = await compareModels(samplePath('ch_PP-OCRv4_rec_infer.onnx'), file, samples);
    t.diagnostic(`3 inputs x 40 positions: cosine ${probabilities!.cosine.toFixed(6)}, argmax agreement ${probabilities!.top1Agreement}`);
    assert.ok(probabilities!.cosine >= 0.999, `cosine ${probabilities!.cosine}`);
    assert.equal(probabilities!.top1Agreement, 1);
    const narrow = await compareModels(samplePath('ch_PP-OCRv4_rec_infer.onnx'), file, [ONNX_SAMPLES['ch_PP-OCRv4_rec_infer.onnx']!()]);
    t.diagnostic(`96-wide sample (12 positions): cosine ${narrow['softmax_11.tmp_0']!.cosine.toFixed(6)}, argmax agreement ${narrow['softmax_11.tmp_0']!.top1Agreement}`);
    assert.ok(narrow['softmax_11.tmp_0']!.cosine >= 0.995);
  });
});
