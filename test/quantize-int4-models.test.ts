import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { UsageError } from '../src/errors.js';
import { makeGraph, makeModel, makeNode, makeFloatTensor, makeValueInfo } from '../src/onnx/builders.js';
import { promoteConstantWeightsToInitializers } from '../src/onnx/constant-weights.js';
import { allGraphs } from '../src/onnx/graph-walk.js';
import { loadOnnxModel, OnnxModel } from '../src/onnx/onnx-model.js';
import type { ModelProto } from '../src/onnx/onnx-proto.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { tensorDims } from '../src/onnx/tensor-data.js';
import { quantizeInt4Blockwise } from '../src/quantize/onnx/int4-blockwise.js';
import { defaultQuantizeOptions, type QuantizeOptions } from '../src/quantize/quantize-options.js';
import type { TensorDecision } from '../src/quantize/quantize-report.js';
import { WeightSelection } from '../src/quantize/weight-selection.js';
import { silentLogger } from '../src/terminal/logger.js';
import { compareOutputs } from '../src/verify/output-metrics.js';
import { SeededRandom } from '../src/numeric/seeded-random.js';
import { ONNX_SAMPLES, samplePath } from './support/onnx-samples.js';

/**
 * --scheme int4 end to end: fixture -> promote Constants -> quantize -> save -> onnxruntime runs the float
 * and the int4 model on the same inputs. Two yardsticks:
 * - against a float model whose weights were replaced by their 4-bit values, computed in this file from the
 *   onnxruntime rules (an oracle independent of src/): the int4 model must agree to float rounding, which
 *   proves layouts, padding and nibble order on real shapes;
 * - against the float model: the error that 4-bit rounding itself costs, bounded per fixture below.
 */

let workDir: string;
before(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-int4-'));
});
after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

function int4Options(overrides: Partial<QuantizeOptions> = {}): QuantizeOptions {
  // accuracy_level 0: onnxruntime's exact fp32 path, so outputs can be held to the dequantized oracle
  // (level 4, the default, quantizes the activations too).
  return defaultQuantizeOptions('int4', { accuracyLevel: 0, ...overrides });
}

type Feeds = () => Record<string, ort.Tensor>;

async function runModel(modelPath: string, feeds: Feeds, options: ort.InferenceSession.SessionOptions = {}): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(modelPath, options);
  try {
    const outputs = await session.run(feeds());
    return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, tensor.data as Float32Array]));
  } finally {
    await session.release();
  }
}

async function writeModel(proto: ModelProto, name: string): Promise<string> {
  const file = path.join(workDir, name);
  await saveOnnxModel(new OnnxModel(proto, file, false), file, { force: true });
  return file;
}

interface Quantized {
  decisions: TensorDecision[];
  output: string;
  proto: ModelProto;
  warnings: string[];
}

async function quantizeFile(source: string, name: string, overrides: Partial<QuantizeOptions> = {}): Promise<Quantized> {
  const model = await loadOnnxModel(source);
  promoteConstantWeightsToInitializers(model.proto);
  const warnings: string[] = [];
  const decisions = await quantizeInt4Blockwise({ model, options: int4Options(overrides), log: { ...silentLogger, warn: (message) => warnings.push(message) } });
  const output = path.join(workDir, name);
  await saveOnnxModel(model, output, { force: true });
  return { decisions, output, proto: model.proto, warnings };
}

function nodesOf(proto: ModelProto) {
  return [...allGraphs(proto)].flatMap(({ graph }) => graph.node ?? []);
}

function opCount(proto: ModelProto, opType: string): number {
  return nodesOf(proto).filter((node) => node.op_type === opType).length;
}

/** MatMuls that still read a float initializer directly. */
function floatMatMulWeights(proto: ModelProto): string[] {
  const found: string[] = [];
  for (const { graph } of allGraphs(proto)) {
    const initializers = new Set((graph.initializer ?? []).map((tensor) => tensor.name));
    for (const node of graph.node ?? []) if (node.op_type === 'MatMul' && initializers.has(node.input?.[1])) found.push(node.input![1]!);
  }
  return found;
}

/**
 * The oracle: each column of W[K, N] in blocks of B down K, rounded as onnxruntime's MatMulNBitsQuantizer
 * does (mlas q4_dq.cpp). Asymmetric: range widened to 0, scale (max-min)/15, zero point round(-min/scale).
 * Symmetric: scale = signed extreme / -8, zero point 8.
 */
function fakeQuantize(weights: Float32Array, rows: number, columns: number, blockSize: number, symmetric: boolean): Float32Array {
  const result = new Float32Array(weights.length);
  for (let column = 0; column < columns; column++) {
    for (let start = 0; start < rows; start += blockSize) {
      const indices: number[] = [];
      for (let row = start; row < Math.min(rows, start + blockSize); row++) indices.push(row * columns + column);
      const values = indices.map((index) => weights[index]!);
      let scale: number;
      let zeroPoint: number;
      if (symmetric) {
        const max = Math.max(...values);
        const min = Math.min(...values);
        scale = Math.fround((Math.abs(max) > Math.abs(min) ? max : min) / -8);
        zeroPoint = 8;
      } else {
        const min = Math.min(0, ...values);
        const max = Math.max(0, ...values);
        scale = Math.fround((max - min) / 15);
        zeroPoint = scale === 0 ? 0 : Math.min(15, Math.max(0, Math.round(-min / scale)));
      }
      for (const index of indices) {
        const code = scale === 0 ? zeroPoint : Math.min(15, Math.max(0, Math.round(weights[index]! / scale + zeroPoint)));
        result[index] = (code - zeroPoint) * scale;
      }
    }
  }
  return result;
}

/** The float model with every named 2-D weight replaced by its fake-quantized values. */
async function fakeQuantizedModel(source: string, name: string, weights: string[], blockSize: number, symmetric: boolean): Promise<string> {
  const model = await loadOnnxModel(source);
  promoteConstantWeightsToInitializers(model.proto);
  for (const { graph } of allGraphs(model.proto)) {
    for (const tensor of graph.initializer ?? []) {
      if (!weights.includes(tensor.name!)) continue;
      const [rows, columns] = tensorDims(tensor) as [number, number];
      const values = await model.tensorAsFloat32(tensor);
      model.setTensorData(tensor, async () => new Uint8Array(fakeQuantize(values, rows, columns, blockSize, symmetric).buffer));
    }
  }
  const output = path.join(workDir, name);
  await saveOnnxModel(model, output, { force: true });
  return output;
}

function quantizedWeights(decisions: TensorDecision[]): string[] {
  return decisions.filter((decision) => decision.action === 'quantized').map((decision) => decision.weight);
}

function maxAbsDifference(expected: Record<string, Float32Array>, actual: Record<string, Float32Array>): number {
  return Math.max(...Object.keys(expected).map((name) => compareOutputs(name, expected[name]!, actual[name]!).maxAbsError));
}

const GPT_LINEAR_WEIGHTS = ['attn.q.weight', 'attn.k.weight', 'attn.v.weight', 'attn.out.weight', 'mlp.fc.weight', 'mlp.proj.weight'];

describe('int4 on gpt-block.onnx', () => {
  const source = samplePath('gpt-block.onnx');
  const feeds = ONNX_SAMPLES['gpt-block.onnx']!;

  for (const symmetric of [false, true]) {
    it(`ort format, ${symmetric ? 'symmetric' : 'asymmetric'}, block 32: six MatMulNBits equal to the 4-bit oracle, logits cosine > 0.98`, async () => {
      const label = symmetric ? 'sym' : 'asym';
      const { decisions, output, proto } = await quantizeFile(source, `gpt-ort-${label}.onnx`, { symmetric, blockSize: 32 });
      assert.deepEqual(quantizedWeights(decisions).sort(), [...GPT_LINEAR_WEIGHTS].sort());
      assert.equal(opCount(proto, 'MatMulNBits'), 6);
      assert.deepEqual(floatMatMulWeights(proto), []);
      assert.ok(proto.opset_import!.some((opset) => opset.domain === 'com.microsoft' && Number(opset.version) === 1));
      // The embedding is tied to the LM head through a Transpose: left float, and said why.
      const embedding = decisions.find((decision) => decision.weight === 'token_embedding');
      assert.equal(embedding?.action, 'skipped');
      assert.match(embedding!.reason!, /shared with Transpose/);
      for (const decision of decisions.filter((item) => item.action === 'quantized')) {
        assert.equal(decision.storage, 'int4 block 32 MatMulNBits');
      }
      // [32, 32]: B 32*1*16 + scales 32*1*4 (+ zero points 32*1) bytes; [128, 32]: B 32*4*16 + scales 32*4*4 (+ 32*2)
      assert.equal(decisions.find((decision) => decision.weight === 'attn.q.weight')!.bytesAfter, symmetric ? 640 : 672);
      assert.equal(decisions.find((decision) => decision.weight === 'mlp.proj.weight')!.bytesAfter, symmetric ? 2560 : 2624);

      const oracle = await fakeQuantizedModel(source, `gpt-oracle-${label}.onnx`, GPT_LINEAR_WEIGHTS, 32, symmetric);
      const [float, expected, actual] = await Promise.all([runModel(source, feeds), runModel(oracle, feeds), runModel(output, feeds)]);
      assert.ok(maxAbsDifference(expected, actual) < 1e-5, `int4 model departs from the 4-bit oracle by ${maxAbsDifference(expected, actual)}`);
      const error = compareOutputs('logits', float.logits!, actual.logits!);
      // Measured 0.9847 (asym) / 0.9848 (sym): RTN 4-bit on these random normal weights costs ~8.5% RMS per
      // weight; six stacked matrices compound it. The oracle check above shows it is all rounding.
      assert.ok(error.cosine > 0.98, `logits cosine ${error.cosine}`);

      const saved = decisions.reduce((sum, decision) => sum + decision.bytesBefore - decision.bytesAfter, 0);
      const [before, after] = await Promise.all([fs.stat(source), fs.stat(output)]);
      assert.ok(saved > 40_000 * 0.8, `saved ${saved} bytes`);
      // names, attributes and the tensors' headers take the rest
      assert.ok(after.size < before.size - saved + 2048, `file ${before.size} -> ${after.size} bytes, expected about ${saved} less`);
    });
  }

  for (const symmetric of [false, true]) {
    it(`qdq format, ${symmetric ? 'symmetric (int4)' : 'asymmetric (uint4 + zero point)'}: DequantizeLinear-21 before each MatMul, opset raised from 17 and said so`, async () => {
      const label = symmetric ? 'sym' : 'asym';
      const { decisions, output, proto, warnings } = await quantizeFile(source, `gpt-qdq-${label}.onnx`, { symmetric, int4Format: 'qdq' });
      assert.deepEqual(quantizedWeights(decisions).sort(), [...GPT_LINEAR_WEIGHTS].sort());
      assert.equal(opCount(proto, 'DequantizeLinear'), 6);
      assert.equal(opCount(proto, 'MatMulNBits'), 0);
      assert.deepEqual(floatMatMulWeights(proto), []);
      assert.equal(Number(proto.opset_import!.find((opset) => !opset.domain)!.version), 21);
      assert.ok(Number(proto.ir_version) >= 10);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /opset from 17 to 21/);
      assert.equal(decisions.find((decision) => decision.action === 'quantized')!.detail!.opset, 'raised from 17 to 21');
      assert.equal(opCount(proto, 'Gather'), 1); // embeddings are rewritten in the ort format only

      const oracle = await fakeQuantizedModel(source, `gpt-qdq-oracle-${label}.onnx`, GPT_LINEAR_WEIGHTS, 32, symmetric);
      // Optimizations off: DequantizeLinear runs as written (ORT would otherwise fuse it into MatMulNBits
      // with accuracy level 4, quantizing the activations to int8 too).
      const exact = { graphOptimizationLevel: 'disabled' } as const;
      const [float, expected, literal, fused] = await Promise.all([
        runModel(source, feeds), runModel(oracle, feeds, exact), runModel(output, feeds, exact), runModel(output, feeds),
      ]);
      assert.ok(maxAbsDifference(expected, literal) < 1e-5, `QDQ model departs from the 4-bit oracle by ${maxAbsDifference(expected, literal)}`);
      assert.ok(compareOutputs('logits', float.logits!, fused.logits!).cosine > 0.98);
    });
  }
});

describe('int4 on PP-OCR rec (ch_PP-OCRv4_rec_infer.onnx, MatMul weights in Constant nodes)', () => {
  const source = samplePath('ch_PP-OCRv4_rec_infer.onnx');
  const feeds = ONNX_SAMPLES['ch_PP-OCRv4_rec_infer.onnx']!;

  it('ort format, block 32: every 2-D MatMul weight (K = 120 and 240, padded blocks) as MatMulNBits, cosine >= 0.99', async () => {
    const { decisions, output, proto } = await quantizeFile(source, 'rec-ort.onnx', { blockSize: 32 });
    const quantized = decisions.filter((decision) => decision.action === 'quantized');
    assert.equal(quantized.length, 9);
    assert.equal(opCount(proto, 'MatMulNBits'), 9);
    assert.deepEqual(floatMatMulWeights(proto), []);
    const [float, actual] = await Promise.all([runModel(source, feeds), runModel(output, feeds)]);
    const [name] = Object.keys(float);
    const error = compareOutputs(name!, float[name!]!, actual[name!]!, 6625);
    // Measured: cosine 0.99868, top-1 agreement 1 (asymmetric).
    assert.ok(error.cosine >= 0.99, `cosine ${error.cosine}`);
    assert.ok(error.top1Agreement! >= 0.9, `top-1 agreement ${error.top1Agreement}`);
    const before = quantized.reduce((sum, decision) => sum + decision.bytesBefore, 0);
    const afterBytes = quantized.reduce((sum, decision) => sum + decision.bytesAfter, 0);
    assert.ok(afterBytes < before / 5, `${before} -> ${afterBytes} bytes`);
  });

  it('qdq format: opset 9 is not raised to 21, every weight skipped with the reason', async () => {
    const model = await loadOnnxModel(source);
    promoteConstantWeightsToInitializers(model.proto);
    const decisions = await quantizeInt4Blockwise({ model, options: int4Options({ int4Format: 'qdq' }), log: silentLogger });
    assert.equal(decisions.length, 9);
    for (const decision of decisions) {
      assert.equal(decision.action, 'skipped');
      assert.match(decision.reason!, /opset 21; the model imports opset 9/);
    }
    assert.equal(Number(model.proto.opset_import![0]!.version), 9);
    assert.equal(opCount(model.proto, 'DequantizeLinear'), 0);
  });
});

/** x[batch, K] -> MatMul(W[K, N]) -> y, weights seeded normal. */
function matMulModel(rows: number, columns: number, opset = 17): ModelProto {
  const random = new SeededRandom(11);
  return makeModel(
    makeGraph({
      name: 'matmul',
      inputs: [makeValueInfo('x', 'float32', ['batch', rows])],
      outputs: [makeValueInfo('y', 'float32', ['batch', columns])],
      initializers: [makeFloatTensor('W', [rows, columns], random.floats(rows * columns, 0.3))],
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
    }),
    { '': opset },
  );
}

describe('int4 with K not a multiple of the block size ([40, 8], block 32)', () => {
  const feeds: Feeds = () => ({ x: new ort.Tensor('float32', Float32Array.from({ length: 3 * 40 }, (_, i) => Math.sin(i * 0.71)), [3, 40]) });

  for (const format of ['ort', 'qdq'] as const) {
    for (const symmetric of [false, true]) {
      it(`${format}, ${symmetric ? 'symmetric' : 'asymmetric'}: equal to the oracle, within the rounding bound of the float result`, async () => {
        const label = `${format}-${symmetric ? 'sym' : 'asym'}`;
        const source = await writeModel(matMulModel(40, 8), `k40-${label}.float.onnx`);
        const { decisions, output } = await quantizeFile(source, `k40-${label}.onnx`, { int4Format: format, symmetric, blockSize: 32 });
        assert.equal(decisions[0]!.action, 'quantized');
        const oracle = await fakeQuantizedModel(source, `k40-${label}.oracle.onnx`, ['W'], 32, symmetric);
        const exact = { graphOptimizationLevel: 'disabled' } as const;
        const [float, expected, actual] = await Promise.all([runModel(source, feeds), runModel(oracle, feeds, exact), runModel(output, feeds, exact)]);
        assert.ok(maxAbsDifference(expected, actual) < 1e-5, `departs from the oracle by ${maxAbsDifference(expected, actual)}`);
        // Each weight moves by at most half a step (0.6 / 15 / 2 for weights within +-0.3*3), inputs are |x| <= 1:
        // |error| <= 40 * 0.02 per output; in practice far less.
        const error = compareOutputs('y', float.y!, actual.y!);
        assert.ok(error.maxAbsError < 0.8, `max error ${error.maxAbsError}`);
        assert.ok(error.cosine > 0.99, `cosine ${error.cosine}`);
      });
    }
  }
});

describe('int4 embeddings (GatherBlockQuantized, ort format)', () => {
  /** ids -> Gather(table[64, 32]) -> MatMul(W[32, 16]): the table has no other reader, so it is quantized. */
  function embeddingModel(): ModelProto {
    const random = new SeededRandom(12);
    return makeModel(
      makeGraph({
        name: 'embedding',
        inputs: [makeValueInfo('ids', 'int64', ['batch', 5])],
        outputs: [makeValueInfo('y', 'float32', ['batch', 5, 16])],
        initializers: [makeFloatTensor('table', [64, 32], random.floats(64 * 32, 1)), makeFloatTensor('W', [32, 16], random.floats(32 * 16, 0.2))],
        nodes: [makeNode('Gather', ['table', 'ids'], ['embedded'], { axis: 0 }), makeNode('MatMul', ['embedded', 'W'], ['y'])],
      }),
    );
  }
  const feeds: Feeds = () => ({ ids: new ort.Tensor('int64', BigInt64Array.from([0n, 5n, 63n, 17n, 5n, 1n, 2n, 3n, 40n, 41n]), [2, 5]) });

  it('Gather -> GatherBlockQuantized (rows in blocks of 16), MatMul -> MatMulNBits; equal to the oracle', async () => {
    const source = await writeModel(embeddingModel(), 'embedding.float.onnx');
    const { decisions, output, proto } = await quantizeFile(source, 'embedding.onnx', { blockSize: 16 });
    assert.deepEqual(decisions.map((decision) => [decision.weight, decision.action, decision.storage]), [
      ['table', 'quantized', 'int4 block 16 GatherBlockQuantized'],
      ['W', 'quantized', 'int4 block 16 MatMulNBits'],
    ]);
    assert.equal(opCount(proto, 'Gather'), 0);
    // table [64, 32]: data 64*16 + scales 64*2*4 + zero points 64*1
    assert.equal(decisions[0]!.bytesAfter, 1024 + 512 + 64);

    // The oracle quantizes rows: fake-quantize the transposed table.
    const model = await loadOnnxModel(source);
    const table = model.proto.graph!.initializer![0]!;
    const values = await model.tensorAsFloat32(table);
    const transposed = new Float32Array(values.length);
    for (let row = 0; row < 64; row++) for (let column = 0; column < 32; column++) transposed[column * 64 + row] = values[row * 32 + column]!;
    const quantizedTransposed = fakeQuantize(transposed, 32, 64, 16, false);
    const rowsQuantized = new Float32Array(values.length);
    for (let row = 0; row < 64; row++) for (let column = 0; column < 32; column++) rowsQuantized[row * 32 + column] = quantizedTransposed[column * 64 + row]!;
    model.setTensorData(table, async () => new Uint8Array(rowsQuantized.buffer));
    const weight = model.proto.graph!.initializer![1]!;
    const weightValues = await model.tensorAsFloat32(weight);
    model.setTensorData(weight, async () => new Uint8Array(fakeQuantize(weightValues, 32, 16, 16, false).buffer));
    const oracle = path.join(workDir, 'embedding.oracle.onnx');
    await saveOnnxModel(model, oracle, { force: true });

    const [expected, actual] = await Promise.all([runModel(oracle, feeds), runModel(output, feeds)]);
    assert.ok(maxAbsDifference(expected, actual) < 1e-5, `departs from the oracle by ${maxAbsDifference(expected, actual)}`);
  });

  it('qdq format leaves embeddings alone (a DequantizeLinear before Gather would expand the whole table each run)', async () => {
    const source = await writeModel(embeddingModel(), 'embedding-qdq.float.onnx');
    const { decisions, proto } = await quantizeFile(source, 'embedding-qdq.onnx', { int4Format: 'qdq', blockSize: 16 });
    assert.deepEqual(quantizedWeights(decisions), ['W']);
    assert.equal(opCount(proto, 'Gather'), 1);
  });
});

describe('int4 inside If subgraphs', () => {
  it('if-subgraph.onnx: the MatMul in the then-branch reading the outer weight W_outer is quantized (ort and qdq)', async () => {
    const source = samplePath('if-subgraph.onnx');
    const feeds = ONNX_SAMPLES['if-subgraph.onnx']!;
    for (const format of ['ort', 'qdq'] as const) {
      const { decisions, output, proto } = await quantizeFile(source, `if-${format}.onnx`, { int4Format: format, blockSize: 16 });
      assert.deepEqual(quantizedWeights(decisions), ['W_outer'], `${format}: ${JSON.stringify(decisions)}`);
      const thenBranch = proto.graph!.node![0]!.attribute!.find((attribute) => attribute.name === 'then_branch')!.g!;
      assert.equal(thenBranch.node!.some((node) => node.op_type === (format === 'ort' ? 'MatMulNBits' : 'DequantizeLinear')), true);
      // The quantized tensors moved into the branch, their only reader.
      assert.ok(thenBranch.initializer!.some((tensor) => tensor.name === (format === 'ort' ? 'W_outer_Q4' : 'W_outer_int4')));
      const [float, actual] = await Promise.all([runModel(source, feeds), runModel(output, feeds)]);
      assert.ok(compareOutputs('y', float.y!, actual.y!).cosine > 0.99);
    }
  });

  it('a weight defined inside the branch is quantized in place', async () => {
    const random = new SeededRandom(13);
    const thenBranch = makeGraph({
      name: 'then_branch',
      inputs: [],
      outputs: [makeValueInfo('then_out', 'float32', [null, null])],
      initializers: [makeFloatTensor('W_inner', [32, 8], random.floats(256, 0.3))],
      nodes: [makeNode('MatMul', ['x', 'W_inner'], ['then_out'])],
    });
    const elseBranch = makeGraph({
      name: 'else_branch',
      inputs: [],
      outputs: [makeValueInfo('else_out', 'float32', [null, null])],
      nodes: [makeNode('Identity', ['x'], ['else_out'])],
    });
    const proto = makeModel(
      makeGraph({
        name: 'if_inner',
        inputs: [makeValueInfo('x', 'float32', ['batch', 32]), makeValueInfo('flag', 'bool', [])],
        outputs: [makeValueInfo('y', 'float32', [null, null])],
        nodes: [makeNode('If', ['flag'], ['y'], { then_branch: thenBranch, else_branch: elseBranch })],
      }),
    );
    const source = await writeModel(proto, 'if-inner.float.onnx');
    const feeds: Feeds = () => ({ x: new ort.Tensor('float32', Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)), [2, 32]), flag: new ort.Tensor('bool', [true], []) });
    for (const format of ['ort', 'qdq'] as const) {
      const { decisions, output } = await quantizeFile(source, `if-inner-${format}.onnx`, { int4Format: format });
      assert.deepEqual(quantizedWeights(decisions), ['W_inner']);
      const oracle = await fakeQuantizedModel(source, `if-inner-${format}.oracle.onnx`, ['W_inner'], 32, false);
      const exact = { graphOptimizationLevel: 'disabled' } as const;
      const [expected, actual] = await Promise.all([runModel(oracle, feeds, exact), runModel(output, feeds, exact)]);
      assert.ok(maxAbsDifference(expected, actual) < 1e-5, `${format}: departs from the oracle by ${maxAbsDifference(expected, actual)}`);
      await runModel(output, feeds); // and loads with ORT's default optimizations (DQ->MatMulNBits fusion)
    }
  });
});

describe('int4 weights read in several graphs', () => {
  it('a weight read by a MatMul in the main graph and one in an If branch: one set of tensors in the main graph', async () => {
    const random = new SeededRandom(15);
    const thenBranch = makeGraph({
      name: 'then_branch',
      inputs: [],
      outputs: [makeValueInfo('then_out', 'float32', [null, null])],
      nodes: [makeNode('MatMul', ['h', 'W_shared'], ['then_out'])],
    });
    const elseBranch = makeGraph({
      name: 'else_branch',
      inputs: [],
      outputs: [makeValueInfo('else_out', 'float32', [null, null])],
      nodes: [makeNode('Identity', ['h'], ['else_out'])],
    });
    const proto = makeModel(
      makeGraph({
        name: 'shared_across_graphs',
        inputs: [makeValueInfo('x', 'float32', ['batch', 32]), makeValueInfo('flag', 'bool', [])],
        outputs: [makeValueInfo('y', 'float32', [null, null])],
        initializers: [makeFloatTensor('W_shared', [32, 32], random.floats(1024, 0.2))],
        nodes: [makeNode('MatMul', ['x', 'W_shared'], ['h']), makeNode('If', ['flag'], ['y'], { then_branch: thenBranch, else_branch: elseBranch })],
      }),
    );
    const source = await writeModel(proto, 'shared.float.onnx');
    const feeds: Feeds = () => ({ x: new ort.Tensor('float32', Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.3)), [2, 32]), flag: new ort.Tensor('bool', [true], []) });
    for (const format of ['ort', 'qdq'] as const) {
      const { decisions, output, proto: quantized } = await quantizeFile(source, `shared-${format}.onnx`, { int4Format: format });
      assert.deepEqual(decisions.map((decision) => [decision.weight, decision.action, decision.detail?.nodes]), [['W_shared', 'quantized', 2]]);
      const thenGraph = quantized.graph!.node!.find((node) => node.op_type === 'If')!.attribute!.find((attribute) => attribute.name === 'then_branch')!.g!;
      assert.deepEqual(thenGraph.initializer ?? [], []);
      assert.equal(opCount(quantized, 'DequantizeLinear'), format === 'qdq' ? 1 : 0);
      const oracle = await fakeQuantizedModel(source, `shared-${format}.oracle.onnx`, ['W_shared'], 32, false);
      const exact = { graphOptimizationLevel: 'disabled' } as const;
      const [expected, actual] = await Promise.all([runModel(oracle, feeds, exact), runModel(output, feeds, exact)]);
      assert.ok(maxAbsDifference(expected, actual) < 1e-5, `${format}: departs from the oracle by ${maxAbsDifference(expected, actual)}`);
      await runModel(output, feeds); // and loads with ORT's default optimizations
    }
  });
});

describe('int4 options and what is left alone', () => {
  it('rejects block sizes other than 16, 32, 64, 128, 256 and accuracy levels outside 0-4 (usage errors)', async () => {
    const model = new OnnxModel(matMulModel(32, 8), path.join(workDir, 'unused.onnx'), false);
    for (const overrides of [{ blockSize: 48 }, { blockSize: 8 }, { blockSize: 512 }, { accuracyLevel: 5 }]) {
      await assert.rejects(quantizeInt4Blockwise({ model, options: int4Options(overrides), log: silentLogger }), UsageError, JSON.stringify(overrides));
    }
  });

  it('accuracy level becomes the MatMulNBits accuracy_level attribute (default 4, 0 leaves it out), and the model runs', async () => {
    const source = await writeModel(matMulModel(64, 8), 'accuracy.float.onnx');
    const { proto, output } = await quantizeFile(source, 'accuracy.onnx', { accuracyLevel: 1, blockSize: 64 });
    const node = proto.graph!.node![0]!;
    assert.equal(Number(node.attribute!.find((attribute) => attribute.name === 'accuracy_level')?.i), 1);
    const feeds: Feeds = () => ({ x: new ort.Tensor('float32', Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)), [1, 64]) });
    const [float, actual] = await Promise.all([runModel(source, feeds), runModel(output, feeds)]);
    assert.ok(compareOutputs('y', float.y!, actual.y!).cosine > 0.99);
    const plain = await quantizeFile(source, 'default-accuracy.onnx', { blockSize: 64, accuracyLevel: undefined });
    assert.equal(Number(plain.proto.graph!.node![0]!.attribute!.find((attribute) => attribute.name === 'accuracy_level')?.i), 4);
    const unset = await quantizeFile(source, 'no-accuracy.onnx', { blockSize: 64, accuracyLevel: 0 });
    assert.equal(unset.proto.graph!.node![0]!.attribute!.some((attribute) => attribute.name === 'accuracy_level'), false);
  });

  it('Gemm is left as it is; a 3-D MatMul weight is skipped with the reason', async () => {
    const mlp = await quantizeFile(samplePath('mlp.onnx'), 'mlp.onnx');
    assert.deepEqual(mlp.decisions.map((decision) => [decision.weight, decision.action]), [['fc2.weight', 'quantized']]);
    assert.equal(opCount(mlp.proto, 'Gemm'), 1);

    const random = new SeededRandom(14);
    const batched = makeModel(
      makeGraph({
        name: 'batched',
        inputs: [makeValueInfo('x', 'float32', [2, 3, 32])],
        outputs: [makeValueInfo('y', 'float32', [2, 3, 4])],
        initializers: [makeFloatTensor('W3', [2, 32, 4], random.floats(256, 0.3))],
        nodes: [makeNode('MatMul', ['x', 'W3'], ['y'])],
      }),
    );
    const model = new OnnxModel(batched, path.join(workDir, 'batched.onnx'), false);
    const decisions = await quantizeInt4Blockwise({ model, options: int4Options(), log: silentLogger });
    assert.equal(decisions.length, 1);
    assert.equal(decisions[0]!.action, 'skipped');
    assert.match(decisions[0]!.reason!, /2-D \[K, N\] weight, this one is \[2, 32, 4\]/);
    assert.equal(model.proto.graph!.node![0]!.op_type, 'MatMul');
  });

  it('qdq refuses to raise the opset past an operator whose meaning changed (ReduceMean axes attribute before 18)', async () => {
    const proto = matMulModel(32, 8, 17);
    proto.graph!.output = [makeValueInfo('m', 'float32', ['batch', 1])];
    proto.graph!.node!.push(makeNode('ReduceMean', ['y'], ['m'], { axes: [1] }));
    const model = new OnnxModel(proto, path.join(workDir, 'reduce.onnx'), false);
    const decisions = await quantizeInt4Blockwise({ model, options: int4Options({ int4Format: 'qdq' }), log: silentLogger });
    assert.equal(decisions[0]!.action, 'skipped');
    assert.match(decisions[0]!.reason!, /ReduceMean node .* takes axes as an input from opset 18/);
    assert.equal(Number(proto.opset_import![0]!.version), 17);
    // the ort format needs no opset change and goes ahead
    const ort4 = await quantizeInt4Blockwise({ model, options: int4Options(), log: silentLogger });
    assert.equal(ort4[0]!.action, 'quantized');
  });

  it('qdq refuses to raise the opset past a Split without sizes (opset 18 requires num_outputs: ORT rejects the model)', async () => {
    const proto = matMulModel(32, 8, 17);
    proto.graph!.output = [makeValueInfo('a', 'float32', ['batch', 4]), makeValueInfo('b', 'float32', ['batch', 4])];
    proto.graph!.node!.push(makeNode('Split', ['y'], ['a', 'b'], { axis: 1 }));
    const model = new OnnxModel(proto, path.join(workDir, 'split.onnx'), false);
    const decisions = await quantizeInt4Blockwise({ model, options: int4Options({ int4Format: 'qdq' }), log: silentLogger });
    assert.equal(decisions[0]!.action, 'skipped');
    assert.match(decisions[0]!.reason!, /Split node .* needs num_outputs/);
  });
});
