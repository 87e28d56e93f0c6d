import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { UnsupportedFeaturesError } from '../src/export/export-contract.js';
import { exportOnnx } from '../src/export/export-model.js';
import { onnxModelProblems } from '../src/export/onnx-checker.js';
import { exportAndCompare, opTypes, saveLayersModel, setSeededWeights, temporaryFolder, tf, useCpuBackend } from './support/export-layers-harness.js';

/** Model structure: shared layers, several inputs and outputs, the layout pass, opsets, unsupported layers. */

type Tensor = tf.SymbolicTensor;
const TOLERANCE = 1e-4;

/** conv-relu, conv, residual add, concat, pool, conv, upsample: every op either layout-free or channels-first. */
function plainCnn(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'image' });
  const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as Tensor;
  const b = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(a) as Tensor;
  const sum = tf.layers.add().apply([a, tf.layers.activation({ activation: 'elu' }).apply(b) as Tensor]) as Tensor;
  const joined = tf.layers.concatenate({}).apply([sum, a]) as Tensor;
  const pooled = tf.layers.maxPooling2d({ poolSize: 2 }).apply(joined) as Tensor;
  const normalized = tf.layers.batchNormalization({}).apply(pooled) as Tensor;
  const c = tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'sigmoid' }).apply(normalized) as Tensor;
  const output = tf.layers.upSampling2d({ size: [2, 2] }).apply(c) as Tensor;
  const model = tf.model({ inputs: input, outputs: output });
  setSeededWeights(model, 11);
  return model;
}

function transposes(ops: string[]): number {
  return ops.filter((op) => op === 'Transpose').length;
}

describe('layout: NHWC interface with the transposes cancelled inside', () => {
  before(useCpuBackend);

  test('a plain CNN keeps exactly two Transposes, one at each end of its NHWC interface', async () => {
    const model = plainCnn();
    const check = await exportAndCompare(model);
    assert.ok(check.worst <= TOLERANCE, `relative error ${check.worst}`);
    const ops = opTypes(check.proto);
    assert.equal(transposes(ops), 2, ops.join(', '));
    assert.ok(check.report.transposes.before > 2, 'the converter emitted naive transposes around every channels-first op');
    const graph = check.proto.graph!;
    assert.equal(graph.node![0]!.op_type, 'Transpose', 'the first node turns the NHWC input channels-first');
    assert.equal(graph.node!.at(-1)!.op_type, 'Transpose', 'the last node turns the result back to NHWC');
    model.dispose();
  });

  test('--nchw makes the interface channels-first: no Transpose left, same numbers', async () => {
    const model = plainCnn();
    const check = await exportAndCompare(model, { nchw: true });
    assert.ok(check.worst <= TOLERANCE, `relative error ${check.worst}`);
    assert.equal(transposes(opTypes(check.proto)), 0, opTypes(check.proto).join(', '));
    const dims = check.proto.graph!.input![0]!.type!.tensor_type!.shape!.dim!.map((dim) => dim.dim_value ?? dim.dim_param);
    assert.deepEqual(dims, ['batch', 3, 8, 8]);
    model.dispose();
  });

  test('a CNN classifier keeps one Transpose before Flatten (NHWC flattening order) and one at the input', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, activation: 'softmax' }),
      ],
    });
    setSeededWeights(model, 12);
    const check = await exportAndCompare(model);
    assert.ok(check.worst <= TOLERANCE, `relative error ${check.worst}`);
    assert.equal(transposes(opTypes(check.proto)), 2, opTypes(check.proto).join(', '));
    model.dispose();
  });
});

describe('model structure', () => {
  before(useCpuBackend);

  test('a shared layer called on two inputs stores its weights once; several inputs and outputs keep their names', async () => {
    const left = tf.input({ shape: [5], name: 'left' });
    const right = tf.input({ shape: [5], name: 'right' });
    const shared = tf.layers.dense({ units: 3, activation: 'tanh', name: 'shared_dense' });
    const a = shared.apply(left) as Tensor;
    const b = shared.apply(right) as Tensor;
    const difference = tf.layers.concatenate({ name: 'joined' }).apply([a, b]) as Tensor;
    const head = tf.layers.dense({ units: 2, name: 'head' }).apply(difference) as Tensor;
    const model = tf.model({ inputs: [left, right], outputs: [head, a] });
    setSeededWeights(model, 13);
    const check = await exportAndCompare(model);
    assert.ok(check.worst <= TOLERANCE, `relative error ${check.worst}`);
    const graph = check.proto.graph!;
    assert.deepEqual(graph.input!.map((input) => input.name), ['left', 'right']);
    assert.deepEqual(graph.output!.map((output) => output.name), ['head', 'shared_dense']);
    const kernels = graph.initializer!.filter((tensor) => tensor.name!.startsWith('shared_dense_kernel'));
    assert.equal(kernels.length, 1, 'one kernel initializer for both calls');
    assert.equal(opTypes(check.proto).filter((op) => op === 'MatMul').length, 3);
    assert.equal(graph.input![0]!.type!.tensor_type!.shape!.dim![0]!.dim_param, 'batch', 'batch dimension is dynamic');
    model.dispose();
  });

  test('a model used as a layer (twice) is inlined: its weights are shared, tfjs node numbering respected', async () => {
    const base = tf.sequential({ name: 'base', layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu', name: 'base_hidden' }), tf.layers.dense({ units: 2, name: 'base_out' })] });
    const x = tf.input({ shape: [4], name: 'x' });
    const y = tf.input({ shape: [4], name: 'y' });
    const sum = tf.layers.add({ name: 'sum' }).apply([base.apply(x) as Tensor, base.apply(y) as Tensor]) as Tensor;
    const inner = tf.input({ shape: [2], name: 'inner_in' });
    const head = tf.model({ name: 'head', inputs: inner, outputs: tf.layers.dense({ units: 3, activation: 'softmax', name: 'head_dense' }).apply(inner) as Tensor });
    const model = tf.model({ inputs: [x, y], outputs: [head.apply(sum) as Tensor, sum] });
    setSeededWeights(model, 15);
    const check = await exportAndCompare(model);
    assert.ok(check.worst <= TOLERANCE, `relative error ${check.worst}`);
    assert.equal(check.proto.graph!.initializer!.filter((tensor) => tensor.name!.startsWith('base_hidden_kernel')).length, 1);
    assert.equal(opTypes(check.proto).filter((op) => op === 'MatMul').length, 5);
    model.dispose();
  });

  for (const opset of [13, 18, 21]) {
    test(`opset ${opset}: reductions and normalization follow that opset's operator forms`, async () => {
      const input = tf.input({ shape: [4, 6], name: 'x' });
      const normalized = tf.layers.layerNormalization({}).apply(input) as Tensor;
      const summed = tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2, returnSequences: true }) as never, mergeMode: 'ave' }).apply(normalized) as Tensor;
      const other = tf.layers.dense({ units: 2 }).apply(normalized) as Tensor;
      const dotted = tf.layers.dot({ axes: 2, normalize: true }).apply([summed, other]) as Tensor;
      const model = tf.model({ inputs: input, outputs: [dotted, tf.layers.globalAveragePooling1d({}).apply(summed) as Tensor] });
      setSeededWeights(model, 14);
      const check = await exportAndCompare(model, { opset });
      assert.ok(check.worst <= TOLERANCE, `relative error ${check.worst}`);
      assert.equal(check.proto.opset_import!.find((entry) => !entry.domain)!.version, opset);
      model.dispose();
    });
  }
});

describe('unsupported constructs', () => {
  before(useCpuBackend);

  test('every unsupported layer, activation and setting is reported at once, naming its layer; nothing is written', async () => {
    const input = tf.input({ shape: [4, 3], name: 'x' });
    const lstm = tf.layers.lstm({ units: 2, returnSequences: true, name: 'recurrent' }).apply(input) as Tensor;
    const dense = tf.layers.dense({ units: 2, activation: 'relu', name: 'odd_activation' }).apply(lstm) as Tensor;
    const output = tf.layers.dense({ units: 2, name: 'custom' }).apply(dense) as Tensor;
    const model = tf.model({ inputs: input, outputs: output });
    const folder = await temporaryFolder('export-unsupported');
    try {
      const modelJsonPath = await saveLayersModel(model, folder);
      const json = JSON.parse(await fs.readFile(modelJsonPath, 'utf8'));
      const layers = json.modelTopology.config.layers as Array<{ class_name: string; config: Record<string, unknown> }>;
      layers.find((layer) => layer.config.name === 'custom')!.class_name = 'MyAttentionLayer';
      layers.find((layer) => layer.config.name === 'odd_activation')!.config.activation = 'hard_swish';
      Object.assign(layers.find((layer) => layer.config.name === 'recurrent')!.config, { stateful: true, recurrent_activation: 'gelu' });
      await fs.writeFile(modelJsonPath, JSON.stringify(json));
      const output = path.join(folder, 'out.onnx');
      await assert.rejects(
        exportOnnx({ input: modelJsonPath, output, options: { opset: 17, nchw: false, dynamicBatch: true }, force: false, verify: false, tolerance: 1e-4, shapes: {} }),
        (error: unknown) => {
          assert.ok(error instanceof UnsupportedFeaturesError, String(error));
          const found = error.features.map((feature) => `${feature.kind} ${feature.name} @ ${feature.where}`).sort();
          assert.deepEqual(found, ['activation gelu @ recurrent', 'activation hard_swish @ odd_activation', 'attribute stateful @ recurrent', 'layer MyAttentionLayer @ custom']);
          assert.match(error.message, /cannot export 4 unsupported constructs/);
          return true;
        },
      );
      assert.equal(existsSync(output), false, 'nothing was written');
    } finally {
      model.dispose();
      await fs.rm(folder, { recursive: true, force: true });
    }
  });
});

describe('ONNX checker rules', () => {
  const model = () => ({
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }] } } } }],
      output: [{ name: 'y', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }] } } } }],
      initializer: [],
      node: [{ op_type: 'Relu', name: 'relu', input: ['x'], output: ['y'] }],
    },
  });

  test('a well-formed graph has no problems', () => {
    assert.deepEqual(onnxModelProblems(model()), []);
  });

  test('each broken rule is reported', () => {
    const undefinedInput = model();
    undefinedInput.graph.node[0]!.input = ['nowhere'];
    assert.match(onnxModelProblems(undefinedInput).join('\n'), /reads nowhere before anything defines it/);
    const noOpset = model();
    noOpset.opset_import = [{ domain: 'com.example', version: 1 }];
    assert.match(onnxModelProblems(noOpset).join('\n'), /no opset import for the default ONNX domain/);
    const customDomain = model();
    (customDomain.graph.node[0] as { domain?: string }).domain = 'com.microsoft';
    assert.match(onnxModelProblems(customDomain).join('\n'), /uses domain 'com.microsoft', which has no opset import/);
    const unproduced = model();
    unproduced.graph.output[0]!.name = 'z';
    assert.match(onnxModelProblems(unproduced).join('\n'), /graph output z is not produced/);
    const twice = model();
    twice.graph.node.push({ op_type: 'Relu', name: 'again', input: ['x'], output: ['y'] });
    assert.match(onnxModelProblems(twice).join('\n'), /y is defined more than once/);
    const mismatched = model();
    mismatched.graph.output[0]!.type.tensor_type.elem_type = 7;
    (mismatched.graph as { value_info?: unknown[] }).value_info = [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }];
    assert.match(onnxModelProblems(mismatched).join('\n'), /y is declared with element type 1 and 7/);
  });
});
