import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_EXPORT_OPTIONS, UnsupportedFeaturesError } from '../src/export/export-contract.js';
import { convertGraphModel } from '../src/export/graph/convert-graph-model.js';
import { loadTfjsModel } from '../src/tfjs/load-tfjs-model.js';
import { attr } from './support/graph-model-builder.js';
import { assertExportMatches, assertOutputsMatch, intFeed, randomFeed, runOnnx, runTfjs, type Feed } from './support/graph-model-check.js';
import { GraphCaseRunner } from './support/graph-model-cases.js';
import { TRANSFORMER_SHAPE, transformerGraph, visionGraph } from './support/graph-model-samples.js';
import { fixturesDir } from './support/repo-paths.js';
import { SeededRandom } from '../src/numeric/seeded-random.js';

const cases = new GraphCaseRunner();
before(() => cases.start('export-graph-models'));
after(() => cases.finish());

function tokenIds(batch: number, seed: number): Feed {
  const random = new SeededRandom(seed);
  const values = Array.from({ length: batch * TRANSFORMER_SHAPE.tokens }, () => Math.floor(random.uniforms(1, 0, TRANSFORMER_SHAPE.vocabulary)[0]!));
  return intFeed(values, [batch, TRANSFORMER_SHAPE.tokens]);
}

function shapeOf(valueInfo: { type?: { tensor_type?: { shape?: { dim?: Array<{ dim_value?: unknown; dim_param?: string }> } } } }): Array<string | number> {
  return (valueInfo.type?.tensor_type?.shape?.dim ?? []).map((dim) => dim.dim_param ?? Number(dim.dim_value));
}

/** NHWC <-> NCHW of a 4-D feed or output, for comparing an `nchw` export with tfjs. */
function permuted(values: ArrayLike<number>, shape: number[], perm: number[]): { values: Float32Array; shape: number[] } {
  const outShape = perm.map((axis) => shape[axis]!);
  const strides = shape.map((_, axis) => shape.slice(axis + 1).reduce((a, b) => a * b, 1));
  const result = new Float32Array(values.length);
  const index = [0, 0, 0, 0];
  for (let flat = 0; flat < values.length; flat++) {
    let rest = flat;
    for (let axis = 3; axis >= 0; axis--) {
      index[axis] = rest % outShape[axis]!;
      rest = Math.floor(rest / outShape[axis]!);
    }
    result[flat] = Number(values[index.reduce((sum, at, axis) => sum + at * strides[perm[axis]!]!, 0)]);
  }
  return { values: result, shape: outShape };
}

describe('GraphModel export of whole models', () => {
  test('the quantized fixture (uint8, float16, uint16 weights in two groups) exports dequantized and matches tfjs', async () => {
    const runs = await assertExportMatches(path.join(fixturesDir, 'tfjs-graph-mlp', 'model.json'), { features: randomFeed([3, 8], 1) });
    assert.deepEqual(runs.exported.inputNames, ['features']);
    assert.deepEqual(runs.exported.outputNames, ['probabilities']);
    const initializers = runs.exported.proto.graph!.initializer!;
    assert.ok(initializers.every((tensor) => tensor.data_type === 1 || tensor.data_type === 7), 'weights are float32 (shapes int64)');
  });

  for (const opset of [13, 17, 21]) {
    test(`a small vision graph (fused conv, depthwise, pool, mean, fused matmul, softmax) at opset ${opset}, batch 3`, async () => {
      const runs = await cases.checkGraph(visionGraph(), { input_image: randomFeed([3, 16, 16, 3], 2) }, { opset });
      assert.deepEqual(runs.exported.inputNames, ['input_image']);
      assert.deepEqual(runs.exported.outputNames, ['probabilities', 'features']);
      const graph = runs.exported.proto.graph!;
      assert.deepEqual(shapeOf(graph.input![0]!), ['batch', 16, 16, 3]);
      assert.deepEqual(graph.output!.map(shapeOf), [['batch', 5], ['batch', 12]]);
      assert.equal(runs.exported.proto.opset_import![0]!.version, opset);
    });
  }

  for (const opset of [13, 18]) {
    test(`a small transformer graph (embedding, layer norm, attention, first-token slice) at opset ${opset}, batch 2`, async () => {
      const runs = await cases.checkGraph(transformerGraph(), { input_ids: tokenIds(2, 3) }, { opset });
      assert.deepEqual(runs.exported.outputNames, ['logits']);
      // The batch is folded into rows (Reshape to [-1, width]) and back, which shape inference cannot follow.
      assert.deepEqual(shapeOf(runs.exported.proto.graph!.output![0]!), [Number.NaN, 3]);
    });
  }

  test('nchw: a 4-D input and output become NCHW, values unchanged', async () => {
    const modelJsonPath = await cases.save((graph) => {
      const image = graph.placeholder('image', [-1, 6, 6, 3]);
      graph.op('features', 'Conv2D', [image, graph.constant('w', new SeededRandom(5).uniforms(3 * 3 * 3 * 4, -1, 1), [3, 3, 3, 4])], {
        strides: attr.ints([1, 1, 1, 1]),
        padding: attr.s('SAME'),
        data_format: attr.s('NHWC'),
        dilations: attr.ints([1, 1, 1, 1]),
      });
    });
    const feed = randomFeed([2, 6, 6, 3], 6);
    const exported = await convertGraphModel(await loadTfjsModel(modelJsonPath), { ...DEFAULT_EXPORT_OPTIONS, nchw: true });
    assert.deepEqual(shapeOf(exported.proto.graph!.input![0]!), ['batch', 3, 6, 6]);
    assert.deepEqual(shapeOf(exported.proto.graph!.output![0]!), ['batch', 4, 6, 6]);
    const channelsFirst = permuted(feed.values as Float32Array, feed.shape, [0, 3, 1, 2]);
    const onnx = await runOnnx(exported, { image: { ...channelsFirst, dtype: 'float32' } });
    const tfjs = await runTfjs(modelJsonPath, { image: feed });
    const expected = permuted(tfjs.features!.values as Float32Array, tfjs.features!.shape, [0, 3, 1, 2]);
    assertOutputsMatch({ exported, tfjs: { features: expected }, onnx });
  });

  test('dynamicBatch off fixes the open batch dimension to 1', async () => {
    const modelJsonPath = await cases.saveGraph(visionGraph());
    const exported = await convertGraphModel(await loadTfjsModel(modelJsonPath), { ...DEFAULT_EXPORT_OPTIONS, dynamicBatch: false });
    assert.deepEqual(shapeOf(exported.proto.graph!.input![0]!), [1, 16, 16, 3]);
    assertOutputsMatch({ exported, tfjs: await runTfjs(modelJsonPath, { input_image: randomFeed([1, 16, 16, 3], 7) }), onnx: await runOnnx(exported, { input_image: randomFeed([1, 16, 16, 3], 7) }) });
  });

  test('signature outputs as tfjs reads them: a second output of a node, one tensor under two keys (the last wins), an input passed through', async () => {
    const runs = await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 2, 3]);
      graph.op('halves', 'Unpack', [x], { axis: attr.i(1), num: attr.i(2) });
      graph.op('doubled', 'Mul', [x, graph.constant('two', [2], [])]);
      graph.signatureOutput('second_half', 'halves:1');
      graph.signatureOutput('doubled', 'doubled:0');
      graph.signatureOutput('doubled_again', 'doubled:0');
      graph.signatureOutput('echo', 'x:0');
    }, { x: randomFeed([4, 2, 3], 8) });
    assert.deepEqual(runs.exported.outputNames, ['second_half', 'doubled_again', 'echo']);
  });

  test('every unsupported op and attribute is reported with its node, in one error; unused nodes are not', async () => {
    const modelJsonPath = await cases.save((graph) => {
      const x = graph.placeholder('x', [-1, 4, 4, 2]);
      const angles = graph.op('mixer/atan2', 'Atan2', [x, x]);
      const padded = graph.op('pad/mirror', 'MirrorPad', [x, graph.constant('pad/widths', [0, 0, 2, 2, 2, 2, 0, 0], [4, 2], 'DT_INT32')], { mode: attr.s('SYMMETRIC') });
      const dilated = graph.op('morphology/dilation', 'Dilation2D', [padded, graph.constant('structure', [0, 0, 0, 0], [1, 1, 2, 2])], { strides: attr.ints([1, 1, 1, 1]), rates: attr.ints([1, 1, 1, 1]), padding: attr.s('VALID') });
      graph.op('out', 'AddV2', [graph.op('sum', 'Sum', [dilated, graph.constant('axes', [1, 2], [2], 'DT_INT32')]), graph.op('angle_sum', 'Sum', [angles, graph.constant('axes2', [1, 2], [2], 'DT_INT32')])]);
      graph.op('unused/fft', 'FFT', [x]);
      graph.signatureOutput('out', 'out:0');
    });
    await assert.rejects(convertGraphModel(await loadTfjsModel(modelJsonPath), DEFAULT_EXPORT_OPTIONS), (error: unknown) => {
      assert.ok(error instanceof UnsupportedFeaturesError);
      assert.deepEqual(
        error.features.map((feature) => [feature.kind, feature.name, feature.where]).sort(),
        [
          ['attribute', 'MirrorPad mode', 'pad/mirror'],
          ['op', 'Atan2', 'mixer/atan2'],
          ['op', 'Dilation2D', 'morphology/dilation'],
        ],
      );
      assert.match(error.message, /3 unsupported constructs/);
      assert.match(error.message, /op Atan2 at mixer\/atan2/);
      assert.match(error.message, /op Dilation2D at morphology\/dilation/);
      assert.doesNotMatch(error.message, /FFT/);
      return true;
    });
  });

  test('a run-time value where ONNX needs a constant is reported as such', async () => {
    const modelJsonPath = await cases.save((graph) => {
      const x = graph.placeholder('x', [-1, 3]);
      const perm = graph.placeholder('perm', [2], 'DT_INT32');
      graph.op('out', 'Transpose', [x, perm]);
    });
    await assert.rejects(convertGraphModel(await loadTfjsModel(modelJsonPath), DEFAULT_EXPORT_OPTIONS), /attribute Transpose perm at out \(computed at run time/);
  });
});
