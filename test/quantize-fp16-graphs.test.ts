import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { makeAttribute, makeFloatTensor, makeGraph, makeInt64Tensor, makeModel, makeNode, makeTensor, makeValueInfo } from '../src/onnx/builders.js';
import { ONNX_TYPE } from '../src/onnx/data-types.js';
import { promoteConstantWeightsToInitializers } from '../src/onnx/constant-weights.js';
import { allNodes } from '../src/onnx/graph-walk.js';
import { loadOnnxModel, OnnxModel } from '../src/onnx/onnx-model.js';
import type { GraphProto, ModelProto, NodeProto } from '../src/onnx/onnx-proto.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { convertToHalfPrecision } from '../src/quantize/onnx/float16-conversion.js';
import { defaultQuantizeOptions, QuantizeOptions } from '../src/quantize/quantize-options.js';
import { WeightSelection } from '../src/quantize/weight-selection.js';
import type { OutputError } from '../src/quantize/quantize-report.js';
import { createLogger } from '../src/terminal/logger.js';
import { verifyOnnxModels } from '../src/verify/verify-onnx.js';

/** fp16 on small graphs built for one behaviour each: overflow guard, Casts, constants, block list, Loop. */

const quiet = createLogger({ quiet: true });
const FLOAT16 = ONNX_TYPE.FLOAT16!;
const FLOAT32 = ONNX_TYPE.FLOAT32!;
let dir: string;
let counter = 0;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-fp16-graphs-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const x24 = () => ({ x: new ort.Tensor('float32', Float32Array.of(0.5, -1.25, 2, 0.75, -0.5, 1, 0.25, -2), [2, 4]) });

/** Save `proto`, convert a loaded copy, save that, and compare both in onnxruntime on `feeds`. */
async function convertBuilt(proto: ModelProto, feeds: Record<string, ort.Tensor>, overrides: Partial<QuantizeOptions> = {}) {
  const source = path.join(dir, `model-${++counter}.onnx`);
  await saveOnnxModel(new OnnxModel(proto, source, false), source);
  const model = await loadOnnxModel(source);
  promoteConstantWeightsToInitializers(model.proto);
  const decisions = await convertToHalfPrecision({ model, options: defaultQuantizeOptions('fp16', overrides), log: quiet });
  const file = path.join(dir, `model-${counter}.fp16.onnx`);
  await saveOnnxModel(model, file);
  const verification = await verifyOnnxModels(source, file, [feeds], 'generated');
  const errors: Record<string, OutputError> = Object.fromEntries(verification.outputs.map((error) => [error.output, error]));
  return { model, decisions, errors, file };
}

const nodesOf = (model: OnnxModel) => [...allNodes(model.proto)];
const producerIn = (graph: GraphProto, value: string) => graph.node!.find((node) => node.output!.includes(value));
const castTarget = (node: NodeProto | undefined) => (node?.op_type === 'Cast' ? Number(node.attribute!.find((attribute) => attribute.name === 'to')!.i) : undefined);
const W4 = () => makeFloatTensor('W', [4, 4], Float32Array.from({ length: 16 }, (_, index) => Math.sin(index + 1) * 0.5));

describe('fp16 overflow guard', () => {
  // mask [0, -1e6, 0, 0] is added before a Softmax (the causal-mask pattern); big = 1e6 is subtracted from x
  // and added back, a chain only float32 can compute.
  const proto = () =>
    makeModel(
      makeGraph({
        name: 'overflow',
        inputs: [makeValueInfo('x', 'float32', [2, 4])],
        outputs: [makeValueInfo('probabilities', 'float32', [2, 4]), makeValueInfo('roundtrip', 'float32', [2, 4])],
        initializers: [W4(), makeFloatTensor('mask', [4], [0, -1e6, 0, 0]), makeFloatTensor('big', [], [1e6])],
        nodes: [
          makeNode('MatMul', ['x', 'W'], ['h']),
          makeNode('Add', ['h', 'mask'], ['masked']),
          makeNode('Softmax', ['masked'], ['probabilities'], { axis: -1 }),
          makeNode('Sub', ['x', 'big'], ['shifted']),
          makeNode('Add', ['shifted', 'big'], ['roundtrip']),
        ],
      }),
    );

  it('keeps weights beyond 65504 float32, reports why, and their readers compute in float32', async () => {
    const { model, decisions, errors } = await convertBuilt(proto(), x24());
    for (const name of ['mask', 'big']) {
      const decision = decisions.find((candidate) => candidate.weight === name)!;
      assert.equal(decision.action, 'skipped', name);
      assert.match(decision.reason!, /values up to 1\.00e\+6 overflow float16 \(largest finite 65504\)/);
      assert.equal(model.proto.graph!.initializer!.find((tensor) => tensor.name === name)!.data_type, FLOAT32);
    }
    assert.equal(decisions.find((candidate) => candidate.weight === 'W')!.action, 'quantized');
    const graph = model.proto.graph!;
    // Sub reads x through a Cast to float32; the Add after it needs none (both float32).
    const sub = graph.node!.find((node) => node.op_type === 'Sub')!;
    assert.equal(castTarget(producerIn(graph, sub.input![0]!)), FLOAT32);
    // x - 1e6 + 1e6 in float32 is exact to float32's spacing at 1e6 (0.0625); in float16 it would be inf/NaN.
    assert.ok(errors.roundtrip!.maxAbsError <= 0.0625, `roundtrip error ${errors.roundtrip!.maxAbsError}`);
    assert.ok(errors.probabilities!.cosine > 0.9999, `probabilities cosine ${errors.probabilities!.cosine}`);
    assert.ok(errors.probabilities!.maxAbsError < 2e-3);
  });
});

describe('fp16 keeps Casts and constants type-correct', () => {
  it('a Cast(to=float) inside the converted region is rewritten to float16, from float and from int64 alike', async () => {
    const proto = makeModel(
      makeGraph({
        name: 'casts',
        inputs: [makeValueInfo('x', 'float32', [2, 4])],
        outputs: [makeValueInfo('y', 'float32', [2, 4])],
        initializers: [W4(), makeFloatTensor('b', [4], [0.1, 0.2, 0.3, 0.4]), makeInt64Tensor('scale_steps', [4], [1, 2, 3, 4])],
        nodes: [
          makeNode('MatMul', ['x', 'W'], ['h']),
          makeNode('Cast', ['h'], ['h_float'], { to: FLOAT32 }, { name: 'cast_float' }),
          makeNode('Cast', ['scale_steps'], ['steps_float'], { to: FLOAT32 }, { name: 'cast_int' }),
          makeNode('Add', ['h_float', 'b'], ['biased']),
          makeNode('Mul', ['biased', 'steps_float'], ['y']),
        ],
      }),
      { '': 17 },
    );
    // Declared value types are checked by onnxruntime at load: they must follow the conversion.
    proto.graph!.value_info = [makeValueInfo('h', 'float32', [2, 4]), makeValueInfo('steps_float', 'float32', [4]), makeValueInfo('biased', 'float32', [2, 4])];
    const { model, errors } = await convertBuilt(proto, x24());
    assert.deepStrictEqual(model.proto.graph!.value_info!.map((value) => value.type!.tensor_type!.elem_type), [FLOAT16, FLOAT16, FLOAT16]);
    const casts = nodesOf(model).filter((node) => node.op_type === 'Cast');
    assert.deepStrictEqual(casts.map((node) => [node.name, castTarget(node)]).sort(), [
      ['cast_float', FLOAT16],
      ['cast_int', FLOAT16],
    ], 'both rewritten, and no Cast had to be added');
    assert.ok(errors.y!.cosine > 0.9999);
    assert.ok(errors.y!.maxAbsError < 1e-2);
  });

  it('Constant value_float and ConstantOfShape values (given or default) become float16 in place', async () => {
    const proto = makeModel(
      makeGraph({
        name: 'constants',
        inputs: [makeValueInfo('x', 'float32', [2, 4])],
        outputs: [makeValueInfo('y', 'float32', [2, 4])],
        nodes: [
          makeNode('Shape', ['x'], ['shape']),
          makeNode('ConstantOfShape', ['shape'], ['ones'], { value: makeFloatTensor('value', [1], [1.5]) }),
          makeNode('ConstantOfShape', ['shape'], ['zeros']),
          makeNode('Constant', [], ['half'], { value_float: 0.5 }),
          makeNode('Add', ['x', 'ones'], ['shifted']),
          makeNode('Mul', ['shifted', 'half'], ['scaled']),
          makeNode('Add', ['scaled', 'zeros'], ['y']),
        ],
      }),
      { '': 17 },
    );
    const { model, errors } = await convertBuilt(proto, x24());
    const nodes = nodesOf(model);
    for (const node of nodes.filter((candidate) => candidate.op_type === 'ConstantOfShape')) {
      assert.equal(node.attribute!.find((attribute) => attribute.name === 'value')!.t!.data_type, FLOAT16, `${node.output![0]} value`);
    }
    const constant = nodes.find((node) => node.op_type === 'Constant')!;
    assert.deepStrictEqual(constant.attribute!.map((attribute) => [attribute.name, attribute.t?.data_type]), [['value', FLOAT16]]);
    assert.equal(nodes.filter((node) => node.op_type === 'Cast').length, 0);
    // (x + 1.5) * 0.5 on values exact in float16.
    assert.equal(errors.y!.maxAbsError, 0);
  });
});

describe('fp16 op block list', () => {
  it('keeps RandomNormalLike (and the ORT list, e.g. Max) in float32 with Casts around them', async () => {
    // y = Max(x . W, 0) + RandomNormalLike(x) * 0: deterministic, and both ops stay float32.
    const proto = makeModel(
      makeGraph({
        name: 'blocked',
        inputs: [makeValueInfo('x', 'float32', [2, 4])],
        outputs: [makeValueInfo('y', 'float32', [2, 4])],
        initializers: [W4(), makeFloatTensor('zero', [], [0])],
        nodes: [
          makeNode('MatMul', ['x', 'W'], ['h']),
          makeNode('Max', ['h', 'zero'], ['relu'], {}, { name: 'max' }),
          makeNode('RandomNormalLike', ['x'], ['noise'], {}, { name: 'noise' }),
          makeNode('Mul', ['noise', 'zero'], ['no_noise']),
          makeNode('Add', ['relu', 'no_noise'], ['y']),
        ],
      }),
      { '': 17 },
    );
    const { model, decisions, errors } = await convertBuilt(proto, x24());
    const graph = model.proto.graph!;
    for (const name of ['max', 'noise']) {
      const node = graph.node!.find((candidate) => candidate.name === name)!;
      assert.equal(castTarget(producerIn(graph, node.input![0]!)), FLOAT32, `${name} reads float32`);
      assert.ok(graph.node!.some((candidate) => candidate.input!.includes(node.output![0]!) && castTarget(candidate) === FLOAT16), `${name}'s output is cast to float16`);
    }
    // 'zero' is read by Max (float32) and Mul (float16): stored float16, cast up for Max.
    assert.equal(decisions.find((decision) => decision.weight === 'zero')!.action, 'quantized');
    assert.ok(errors.y!.cosine > 0.9999);
  });

  it('--op-block-list adds op types: Softmax stays float32', async () => {
    const proto = makeModel(
      makeGraph({
        name: 'softmax',
        inputs: [makeValueInfo('x', 'float32', [2, 4])],
        outputs: [makeValueInfo('y', 'float32', [2, 4])],
        initializers: [W4()],
        nodes: [makeNode('MatMul', ['x', 'W'], ['h']), makeNode('Softmax', ['h'], ['y'], { axis: -1 })],
      }),
      { '': 17 },
    );
    const plain = await convertBuilt(proto, x24(), { keepIoTypes: true });
    assert.equal(castTarget(producerIn(plain.model.proto.graph!, 'y')), FLOAT32, 'without the option the output Cast follows a float16 Softmax');
    const { model, errors } = await convertBuilt(proto, x24(), { keepIoTypes: true, opBlockList: ['Softmax'] });
    const graph = model.proto.graph!;
    assert.equal(producerIn(graph, 'y')!.op_type, 'Softmax', 'a float32 Softmax writes the float32 output itself');
    assert.equal(castTarget(producerIn(graph, producerIn(graph, 'y')!.input![0]!)), FLOAT32);
    assert.ok(errors.y!.cosine > 0.9999);
  });
});

describe('fp16 weight selection', () => {
  it('--exclude keeps a weight float32; the node reading it still computes in float16 through a Cast', async () => {
    const proto = makeModel(
      makeGraph({
        name: 'excluded',
        inputs: [makeValueInfo('x', 'float32', [2, 4])],
        outputs: [makeValueInfo('y', 'float32', [2, 4])],
        initializers: [W4()],
        nodes: [makeNode('MatMul', ['x', 'W'], ['y'], {}, { name: 'projection' })],
      }),
      { '': 17 },
    );
    const selection = new WeightSelection({ include: [], exclude: ['W'], minSize: 0 });
    const { model, decisions, errors } = await convertBuilt(proto, x24(), { selection });
    assert.deepStrictEqual(decisions.map((decision) => [decision.weight, decision.action, decision.reason]), [['W', 'skipped', 'excluded by --exclude']]);
    const graph = model.proto.graph!;
    assert.equal(graph.initializer![0]!.data_type, FLOAT32);
    assert.equal(castTarget(producerIn(graph, graph.node!.find((node) => node.name === 'projection')!.input![1]!)), FLOAT16);
    assert.ok(errors.y!.cosine > 0.9999);
  });
});

describe('fp16 in Loop bodies', () => {
  it('a converted Loop carries float16 values: body inputs, outputs and weights follow', async () => {
    // acc = x; 3 times: acc = acc * 0.5 + W_step.
    const body = makeGraph({
      name: 'body',
      inputs: [makeValueInfo('iteration', 'int64', []), makeValueInfo('condition', 'bool', []), makeValueInfo('acc', 'float32', [2, 4])],
      outputs: [makeValueInfo('condition_out', 'bool', []), makeValueInfo('acc_out', 'float32', [2, 4])],
      initializers: [makeFloatTensor('decay', [], [0.5])],
      nodes: [
        makeNode('Identity', ['condition'], ['condition_out']),
        makeNode('Mul', ['acc', 'decay'], ['decayed']),
        makeNode('Add', ['decayed', 'W_step'], ['acc_out']),
      ],
    });
    const proto = makeModel(
      makeGraph({
        name: 'loop',
        inputs: [makeValueInfo('x', 'float32', [2, 4])],
        outputs: [makeValueInfo('y', 'float32', [2, 4])],
        initializers: [
          makeInt64Tensor('trips', [], [3]),
          makeTensor('keep_going', ONNX_TYPE.BOOL!, [], Uint8Array.of(1)),
          makeFloatTensor('W_step', [4], [0.25, -0.5, 1, 0.125]),
        ],
        nodes: [{ ...makeNode('Loop', ['trips', 'keep_going', 'x'], ['y']), attribute: [makeAttribute('body', body)] }],
      }),
      { '': 17 },
    );
    for (const keepIoTypes of [false, true]) {
      const { model, errors } = await convertBuilt(proto, x24(), { keepIoTypes });
      const converted = model.proto.graph!.node!.find((node) => node.op_type === 'Loop')!.attribute![0]!.g!;
      assert.equal(converted.input![2]!.type!.tensor_type!.elem_type, FLOAT16, 'carried input');
      assert.equal(converted.output![1]!.type!.tensor_type!.elem_type, FLOAT16, 'carried output');
      assert.equal(converted.initializer![0]!.data_type, FLOAT16);
      assert.ok(errors.y!.maxAbsError < 2e-3, `keepIoTypes ${keepIoTypes}: ${errors.y!.maxAbsError}`);
    }
  });
});
