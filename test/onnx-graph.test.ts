import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildGptBlock, buildIfSubgraph, buildMlp } from '../fixtures/onnx/build-onnx-fixtures.js';
import { makeFloatTensor, makeNode } from '../src/onnx/builders.js';
import { ensureOpset, OnnxGraph, opsetVersion } from '../src/onnx/graph.js';
import { allGraphs, allNodes } from '../src/onnx/graph-walk.js';
import { OnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { ONNX_SAMPLES, runOnnx } from './support/onnx-samples.js';

async function runBuilt(model: OnnxModel, feedsFor: string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-graph-'));
  try {
    const file = path.join(dir, 'model.onnx');
    await saveOnnxModel(model, file);
    return await runOnnx(file, ONNX_SAMPLES[feedsFor]!());
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

describe('ONNX graph layer', () => {
  it('finds producers and consumers, counting a subgraph reading an outer value as a consumer', () => {
    const proto = buildIfSubgraph();
    const graph = new OnnxGraph(proto.graph!);
    const ifNode = graph.nodes[0]!;
    assert.equal(graph.producer('y'), ifNode);
    assert.deepStrictEqual(graph.consumers('W_outer'), [ifNode], 'W_outer is read inside the then-branch only');
    assert.deepStrictEqual(graph.consumers('x'), [ifNode]);
    assert.deepStrictEqual(graph.consumers('nothing'), []);
  });

  it('every traversal visits subgraphs', () => {
    const proto = buildIfSubgraph();
    assert.deepStrictEqual([...allGraphs(proto)].map((location) => location.graph.name), ['if_subgraph', 'then_branch', 'else_branch']);
    assert.deepStrictEqual([...allNodes(proto)].map((node) => node.op_type), ['If', 'MatMul', 'Add', 'Relu', 'Mul']);
  });

  it('inserting a node, replacing uses and re-sorting gives a model onnxruntime runs with the expected change', async () => {
    const proto = buildMlp();
    const graph = new OnnxGraph(proto.graph!);
    const baseline = await runBuilt(new OnnxModel(buildMlp(), '/nonexistent/m.onnx', false), 'mlp.onnx');
    // Scale the logits by 0 before Softmax: every class then gets probability 1/8.
    graph.addInitializer(makeFloatTensor('zero', [], [0]));
    const scaled = graph.uniqueName('logits');
    assert.equal(scaled, 'logits_1');
    const softmax = graph.consumers('logits')[0]!;
    graph.replaceAllUses('logits', scaled);
    graph.insertNode(makeNode('Mul', ['logits', 'zero'], [scaled]), graph.nodes[0]); // out of order on purpose
    assert.equal(graph.nodes[0]!.op_type, 'Mul', 'inserted before its producer');
    assert.equal(graph.consumers(scaled)[0], softmax);
    graph.sortTopologically();
    const order = graph.nodes.map((node) => node.op_type);
    assert.ok(order.indexOf('Mul') > order.indexOf('Add') && order.indexOf('Mul') < order.indexOf('Softmax'));
    const result = await runBuilt(new OnnxModel(proto, '/nonexistent/m.onnx', false), 'mlp.onnx');
    const probabilities = new Float32Array(result.probabilities!.buffer, result.probabilities!.byteOffset, 24);
    for (const value of probabilities) assert.ok(Math.abs(value - 1 / 8) < 1e-7);
    assert.ok(!result.probabilities!.equals(baseline.probabilities!));
  });

  it('replaceNode and removeDeadNodes drop unreachable nodes and the initializers only they used', () => {
    const proto = buildGptBlock();
    const graph = new OnnxGraph(proto.graph!);
    const before = graph.nodes.length;
    graph.insertNode(makeNode('Relu', ['tokens'], ['unused_relu']));
    graph.addInitializer(makeFloatTensor('unused_weight', [2], [1, 2]));
    graph.insertNode(makeNode('Add', ['unused_relu', 'unused_weight'], ['unused_sum']));
    assert.equal(graph.removeDeadNodes(), 2);
    assert.equal(graph.nodes.length, before);
    assert.equal(graph.initializer('unused_weight'), undefined);
    assert.ok(graph.initializer('token_embedding'), 'weights in use stay');

    const relu = makeNode('Relu', ['final'], ['final_relu']);
    const lmHead = graph.consumers('final')[0]!;
    graph.replaceNode(lmHead, [relu, makeNode('MatMul', ['final_relu', 'lm_head.weight'], ['logits'])]);
    assert.equal(graph.producer('final_relu'), relu);
    assert.equal(graph.consumers('final')[0], relu);
  });

  it('removeDeadNodes keeps values a subgraph reads from the enclosing graph', () => {
    const proto = buildIfSubgraph();
    const graph = new OnnxGraph(proto.graph!);
    assert.equal(graph.removeDeadNodes(), 0);
    assert.ok(graph.initializer('W_outer'));
  });

  it('manages opset imports: adds domains, raises custom ones, refuses to silently raise the default', () => {
    const proto = buildMlp();
    assert.equal(opsetVersion(proto, ''), 17);
    assert.equal(opsetVersion(proto, 'com.microsoft'), undefined);
    ensureOpset(proto, 'com.microsoft', 1);
    assert.equal(opsetVersion(proto, 'com.microsoft'), 1);
    ensureOpset(proto, '', 13);
    assert.equal(opsetVersion(proto, ''), 17);
    assert.throws(() => ensureOpset(proto, '', 21), /opset 21/);
  });
});
