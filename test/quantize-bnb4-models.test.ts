import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { makeFloatTensor, makeGraph, makeModel, makeNode, makeValueInfo } from '../src/onnx/builders.js';
import { promoteConstantWeightsToInitializers } from '../src/onnx/constant-weights.js';
import { allNodes } from '../src/onnx/graph-walk.js';
import { loadOnnxModel, OnnxModel } from '../src/onnx/onnx-model.js';
import type { ModelProto } from '../src/onnx/onnx-proto.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { SeededRandom } from '../src/numeric/seeded-random.js';
import { BNB4_CODE_BOOKS } from '../src/quantize/kernels/bnb4-code-books.js';
import { dequantizeBnb4 } from '../src/quantize/kernels/bnb4-packing.js';
import { quantizeBnb4 } from '../src/quantize/onnx/bnb4.js';
import { restoreAbsmax } from '../src/quantize/onnx/double-quantization.js';
import { defaultQuantizeOptions, QuantizeOptions } from '../src/quantize/quantize-options.js';
import type { OutputError, TensorDecision } from '../src/quantize/quantize-report.js';
import { createLogger } from '../src/terminal/logger.js';
import { verifyOnnxModels } from '../src/verify/verify-onnx.js';
import { decodeCtc, digitLineTensor } from '../fixtures/ocr/mnist-text-line.js';
import { OCR_MODELS_DIR, ONNX_SAMPLES, samplePath } from './support/onnx-samples.js';

const quiet = createLogger({ quiet: true });
let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-bnb4-models-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

interface Quantized {
  model: OnnxModel;
  decisions: TensorDecision[];
  file: string;
  fileBytes: number;
  error: OutputError;
}

/** load -> promote Constant weights -> nf4/fp4 -> save -> onnxruntime runs both on the fixture's inputs. */
async function quantizeFile(source: string, scheme: 'nf4' | 'fp4', overrides: Partial<QuantizeOptions> = {}, feeds = ONNX_SAMPLES[path.basename(source)]!()): Promise<Quantized> {
  const model = await loadOnnxModel(source);
  promoteConstantWeightsToInitializers(model.proto);
  const decisions = await quantizeBnb4({ model, options: defaultQuantizeOptions(scheme, overrides), log: quiet }, scheme);
  const file = path.join(dir, `${path.basename(source, '.onnx')}.${scheme}${overrides.doubleQuant ? '.dq' : ''}.onnx`);
  const saved = await saveOnnxModel(model, file, { force: true });
  const verification = await verifyOnnxModels(source, file, [feeds], 'generated');
  return { model, decisions, file, fileBytes: saved.modelBytes + saved.dataBytes, error: verification.outputs[0]! };
}

const opTypes = (model: OnnxModel) => [...allNodes(model.proto)].map((node) => node.op_type);
const sum = (decisions: TensorDecision[], key: 'bytesBefore' | 'bytesAfter') =>
  decisions.filter((decision) => decision.action === 'quantized').reduce((total, decision) => total + decision[key], 0);

describe('nf4 / fp4 on gpt-block.onnx', () => {
  it('nf4: every MatMul weight becomes MatMulBnb4 and the output stays close (cosine > 0.98)', async (t) => {
    const { model, decisions, error } = await quantizeFile(samplePath('gpt-block.onnx'), 'nf4');
    t.diagnostic(`gpt-block nf4: cosine ${error.cosine.toFixed(5)}, max abs error ${error.maxAbsError.toFixed(4)}`);
    // Six [K, N] projections; the LM head reads the token embedding through a Transpose, so it stays float.
    assert.equal(opTypes(model).filter((op) => op === 'MatMulBnb4').length, 6);
    const initializers = new Set(model.proto.graph!.initializer!.map((tensor) => tensor.name));
    assert.ok(!model.proto.graph!.node!.some((node) => node.op_type === 'MatMul' && initializers.has(node.input![1])), 'no float MatMul weight left');
    assert.ok(model.proto.opset_import!.some((opset) => opset.domain === 'com.microsoft'));
    assert.deepStrictEqual(decisions.filter((decision) => decision.action === 'skipped'), []);
    // 4 bits per weight plus one float32 absmax per 64: (0.5 + 4/64) / 4 of float32.
    assert.equal(sum(decisions, 'bytesAfter') / sum(decisions, 'bytesBefore'), (0.5 + 4 / 64) / 4);
    assert.equal(decisions[0]!.storage, 'nf4 block 64 MatMulBnb4');
    // Random-weight block, 4 bits per weight: the brief's bound, measured 0.983.
    assert.ok(error.cosine > 0.98, `cosine ${error.cosine}`);
  });

  it('fp4: runs with a coarser code book (cosine > 0.95; reported)', async (t) => {
    const { decisions, error } = await quantizeFile(samplePath('gpt-block.onnx'), 'fp4');
    t.diagnostic(`gpt-block fp4: cosine ${error.cosine.toFixed(5)}, max abs error ${error.maxAbsError.toFixed(4)}`);
    assert.equal(decisions[0]!.storage, 'fp4 block 64 MatMulBnb4');
    // FP4 spends codes on 0.0052 and has no level between 0.5 and 0.67: measured 0.976, below NF4.
    assert.ok(error.cosine > 0.95, `cosine ${error.cosine}`);
  });

  it('--double-quant stores the absmax as int8 behind DequantizeLinear: runs, and the constants shrink', async (t) => {
    const plain = await quantizeFile(samplePath('gpt-block.onnx'), 'nf4');
    const doubled = await quantizeFile(samplePath('gpt-block.onnx'), 'nf4', { doubleQuant: true });
    t.diagnostic(`gpt-block nf4 + double quant: cosine ${doubled.error.cosine.toFixed(5)}`);
    const dequantize = doubled.model.proto.graph!.node!.filter((node) => node.op_type === 'DequantizeLinear');
    assert.equal(dequantize.length, 6);
    assert.ok(dequantize.every((node) => !node.domain), 'opset 17: the standard per-axis DequantizeLinear');
    assert.ok(sum(doubled.decisions, 'bytesAfter') < sum(plain.decisions, 'bytesAfter'), 'codes + int8 absmax smaller than codes + float32 absmax');
    assert.ok(doubled.error.cosine > 0.98, `cosine ${doubled.error.cosine}`);
    assert.ok(Math.abs(doubled.error.cosine - plain.error.cosine) < 0.002, 'double quantization barely moves the output');
  });
});

/** y = x . W with W [256, 514] (2056 blocks of 64: 9 int8 groups of 229, 5 padding codes). */
function wideMatMul(opset: number): { proto: ModelProto; weight: Float32Array } {
  const weight = new SeededRandom(11).floats(256 * 514, 0.05);
  const proto = makeModel(
    makeGraph({
      name: 'wide_matmul',
      inputs: [makeValueInfo('x', 'float32', ['rows', 256])],
      outputs: [makeValueInfo('y', 'float32', ['rows', 514])],
      initializers: [makeFloatTensor('W', [256, 514], weight)],
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'], {}, { name: 'matmul' })],
    }),
    { '': opset },
  );
  return { proto, weight };
}

describe('nf4 --double-quant restore chain in onnxruntime', () => {
  for (const opset of [9, 17]) {
    it(`opset ${opset}: the runtime decodes the weight with the double-quantized absmax`, async () => {
      const { proto } = wideMatMul(opset);
      const source = path.join(dir, `wide-${opset}.onnx`);
      await saveOnnxModel(new OnnxModel(proto, source, false), source, { force: true });
      const identity = new Float32Array(256 * 256);
      for (let index = 0; index < 256; index++) identity[index * 256 + index] = 1;
      const feeds = { x: new ort.Tensor('float32', identity, [256, 256]) };
      const plain = await quantizeFile(source, 'nf4', {}, feeds);
      const doubled = await quantizeFile(source, 'nf4', { doubleQuant: true }, feeds);

      const nodes = doubled.model.proto.graph!.node!;
      const dequantize = nodes.find((node) => node.op_type === 'DequantizeLinear')!;
      assert.equal(dequantize.domain ?? '', opset >= 13 ? '' : 'com.microsoft', 'standard per-axis DequantizeLinear needs opset 13');
      const slice = nodes.find((node) => node.op_type === 'Slice')!;
      assert.equal(slice.input!.length, opset >= 10 ? 3 : 1, 'Slice bounds are inputs from opset 10, attributes before');
      assert.ok(doubled.fileBytes < plain.fileBytes - 4000, `file ${doubled.fileBytes} vs ${plain.fileBytes} bytes`);

      // Read back what was saved and decode it by hand: the runtime's output rows must be exactly that.
      const saved = await loadOnnxModel(doubled.file);
      const tensor = (name: string) => saved.proto.graph!.initializer!.find((candidate) => candidate.name === name)!;
      const bnb4 = saved.proto.graph!.node!.find((node) => node.op_type === 'MatMulBnb4')!;
      const dequantizeInputs = saved.proto.graph!.node!.find((node) => node.op_type === 'DequantizeLinear')!.input!;
      const offset = saved.proto.graph!.node!.find((node) => node.op_type === 'Add')!.input![1]!;
      const codeBytes = await saved.tensorBytes(tensor(dequantizeInputs[0]!));
      const quantized = {
        codes: new Int8Array(codeBytes.buffer, codeBytes.byteOffset, codeBytes.byteLength),
        scales: await saved.tensorAsFloat32(tensor(dequantizeInputs[1]!)),
        offset: (await saved.tensorAsFloat32(tensor(offset)))[0]!,
      };
      const absmax = restoreAbsmax(quantized, 2056);
      const decoded = dequantizeBnb4(await saved.tensorBytes(tensor(bnb4.input![1]!)), absmax, 256 * 514, 64, BNB4_CODE_BOOKS.nf4);
      const session = await ort.InferenceSession.create(doubled.file);
      const { y } = await session.run(feeds);
      await session.release();
      const output = y!.data as Float32Array;
      for (let row = 0; row < 256; row += 17) {
        for (let column = 0; column < 514; column += 13) {
          const expected = decoded[column * 256 + row]!;
          assert.ok(Math.abs(output[row * 514 + column]! - expected) <= 1e-6 * Math.abs(expected) + 1e-9, `[${row}, ${column}] ${output[row * 514 + column]} vs ${expected}`);
        }
      }

      // And the restored absmax is within 1% of the exact one.
      const exact = await plain.model.tensorAsFloat32(plain.model.proto.graph!.initializer!.find((candidate) => candidate.name!.endsWith('_absmax'))!);
      let worst = 0;
      exact.forEach((value, index) => (worst = Math.max(worst, Math.abs(absmax[index]! - value) / value)));
      assert.ok(worst < 0.01, `worst relative absmax error ${worst}`);
    });
  }
});

/** The recognizer's reading of a line of handwritten MNIST digits (greedy CTC over its 6625 classes). */
async function readTextLine(file: string, line: ort.Tensor): Promise<string> {
  const keys = (await fs.readFile(path.join(OCR_MODELS_DIR, 'ppocr_keys_v1.txt'), 'utf8')).split('\n');
  const session = await ort.InferenceSession.create(file);
  try {
    const output = Object.values(await session.run({ x: line }))[0]!;
    return decodeCtc(output.data as Float32Array, Number(output.dims[2]), keys);
  } finally {
    await session.release();
  }
}

describe('nf4 on PP-OCRv4 rec (real model, opset 9, Constant-node weights)', () => {
  it('quantizes its MatMul weights and keeps the recognition output close on a real text line (reported)', async (t) => {
    const source = samplePath('ch_PP-OCRv4_rec_infer.onnx');
    const line = digitLineTensor('31415926', 5);
    const { model, decisions, error, file } = await quantizeFile(source, 'nf4', {}, { x: line });
    const quantized = decisions.filter((decision) => decision.action === 'quantized');
    const [expected, actual] = [await readTextLine(source, line), await readTextLine(file, line)];
    t.diagnostic(`PP-OCRv4 rec nf4: ${quantized.length} weights, cosine ${error.cosine.toFixed(5)}, top-1 ${error.top1Agreement?.toFixed(3)}, reads '${actual}' (float: '${expected}')`);
    assert.equal(opTypes(model).filter((op) => op === 'MatMulBnb4').length, quantized.length);
    assert.ok(quantized.length >= 9);
    // Measured 0.9925 and 97% per-step agreement: 4-bit weights in the SVTR neck and CTC head cost one
    // digit of eight here (the float model reads the line correctly).
    assert.ok(error.cosine > 0.98, `cosine ${error.cosine}`);
    assert.ok(error.top1Agreement! > 0.9, `top-1 agreement ${error.top1Agreement}`);
  });
});
