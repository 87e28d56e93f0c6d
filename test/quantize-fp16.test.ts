import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { UsageError } from '../src/errors.js';
import { makeFloatTensor, makeGraph, makeModel, makeNode, makeValueInfo } from '../src/onnx/builders.js';
import { ONNX_TYPE } from '../src/onnx/data-types.js';
import { promoteConstantWeightsToInitializers } from '../src/onnx/constant-weights.js';
import { allGraphs, allNodes } from '../src/onnx/graph-walk.js';
import { loadOnnxModel, OnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { convertToHalfPrecision, floatToBfloat16Bits } from '../src/quantize/onnx/float16-conversion.js';
import { defaultQuantizeOptions, QuantizeOptions } from '../src/quantize/quantize-options.js';
import type { OutputError, TensorDecision } from '../src/quantize/quantize-report.js';
import { createLogger } from '../src/terminal/logger.js';
import { verifyOnnxModels } from '../src/verify/verify-onnx.js';
import { decodeCtc, digitLineTensor } from '../fixtures/ocr/mnist-text-line.js';
import { floatToHalfBits, halvesToFloat32 } from '../src/numeric/float16.js';
import { OCR_MODELS_DIR, ONNX_SAMPLES, samplePath } from './support/onnx-samples.js';

const quiet = createLogger({ quiet: true });
let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-fp16-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

interface Converted {
  model: OnnxModel;
  decisions: TensorDecision[];
  file: string;
  fileBytes: number;
  error: OutputError;
  session: { inputs: string[]; outputs: string[] };
}

/** load -> promote Constant weights -> fp16/bf16 -> save -> onnxruntime runs both on the fixture's inputs. */
async function convertFile(
  source: string,
  scheme: 'fp16' | 'bf16',
  overrides: Partial<QuantizeOptions> = {},
  feeds = ONNX_SAMPLES[path.basename(source)]!(),
): Promise<Converted> {
  const model = await loadOnnxModel(source);
  promoteConstantWeightsToInitializers(model.proto);
  const decisions = await convertToHalfPrecision({ model, options: defaultQuantizeOptions(scheme, overrides), log: quiet });
  const file = path.join(dir, `${path.basename(source, '.onnx')}.${scheme}${overrides.keepIoTypes ? '.io32' : ''}.onnx`);
  const saved = await saveOnnxModel(model, file, { force: true });
  const verification = await verifyOnnxModels(source, file, [feeds], 'generated');
  const session = await ort.InferenceSession.create(file);
  const types = (metadata: readonly unknown[]) => (metadata as Array<{ type?: string }>).map((entry) => entry.type ?? '');
  const sessionTypes = { inputs: types(session.inputMetadata), outputs: types(session.outputMetadata) };
  await session.release();
  return { model, decisions, file, fileBytes: saved.modelBytes + saved.dataBytes, error: verification.outputs[0]!, session: sessionTypes };
}

const floatInitializers = (model: OnnxModel, type: number) =>
  [...allGraphs(model.proto)].flatMap(({ graph }) => graph.initializer ?? []).filter((tensor) => tensor.data_type === type);
const castsTo = (model: OnnxModel, type: number) => [...allNodes(model.proto)].filter((node) => node.op_type === 'Cast' && Number(node.attribute![0]!.i) === type);

describe('fp16 on the fixtures (weights and compute)', () => {
  // float16 keeps 11 significant bits (relative rounding 2^-11 ~ 5e-4 per operation), so outputs of these
  // small float models stay within a few 1e-4 of float32 at cosine >= 0.9999.
  for (const file of ['mlp.onnx', 'cnn-batchnorm.onnx', 'gpt-block.onnx', 'if-subgraph.onnx']) {
    it(`${file}: runs in onnxruntime with float16 I/O and stays within half-precision error`, async (t) => {
      const { model, decisions, error, session } = await convertFile(samplePath(file), 'fp16');
      t.diagnostic(`${file} fp16: cosine ${error.cosine.toFixed(7)}, max abs error ${error.maxAbsError.toExponential(2)}`);
      assert.ok(error.cosine > 0.9999, `cosine ${error.cosine}`);
      assert.ok(error.maxAbsError < 0.01, `max abs error ${error.maxAbsError}`);
      assert.ok(session.inputs.every((type) => type === 'float16' || type === 'int64' || type === 'bool'), `inputs ${session.inputs}`);
      assert.deepStrictEqual(session.outputs, ['float16']);
      const quantized = decisions.filter((decision) => decision.action === 'quantized');
      assert.ok(quantized.every((decision) => decision.bytesAfter * 2 === decision.bytesBefore && decision.storage === 'float16'));
      // Only gpt-block's -1e9 causal mask stays float32 (see the overflow test).
      assert.deepStrictEqual(floatInitializers(model, ONNX_TYPE.FLOAT32!).map((tensor) => tensor.name), file === 'gpt-block.onnx' ? ['causal_mask'] : []);
      if (file !== 'gpt-block.onnx') assert.equal(castsTo(model, ONNX_TYPE.FLOAT32!).length + castsTo(model, ONNX_TYPE.FLOAT16!).length, 0, 'nothing kept float32, no Cast needed');
    });
  }

  it('gpt-block: the -1e9 causal mask stays float32 and the Add reading it computes in float32 between Casts', async () => {
    const { model, decisions } = await convertFile(samplePath('gpt-block.onnx'), 'fp16');
    const mask = decisions.find((decision) => decision.weight === 'causal_mask')!;
    assert.equal(mask.action, 'skipped');
    assert.match(mask.reason!, /overflow float16/);
    const add = model.proto.graph!.node!.find((node) => node.input!.includes('causal_mask'))!;
    const producerOf = (value: string) => model.proto.graph!.node!.find((node) => node.output!.includes(value))!;
    assert.equal(producerOf(add.input![0]!).op_type, 'Cast', 'the float16 scores are cast up');
    const softmax = model.proto.graph!.node!.find((node) => node.op_type === 'Softmax')!;
    assert.equal(producerOf(softmax.input![0]!).op_type, 'Cast', 'and the float32 sum cast back down');
  });

  it('if-subgraph: the If branches compute in float16, reading the outer weight as float16', async () => {
    const { model } = await convertFile(samplePath('if-subgraph.onnx'), 'fp16');
    const outer = model.proto.graph!.initializer!.find((tensor) => tensor.name === 'W_outer')!;
    assert.equal(outer.data_type, ONNX_TYPE.FLOAT16);
    const branches = model.proto.graph!.node![0]!.attribute!.map((attribute) => attribute.g!);
    for (const branch of branches) {
      assert.equal(branch.output![0]!.type!.tensor_type!.elem_type, ONNX_TYPE.FLOAT16, `${branch.name} returns float16`);
      assert.ok(branch.initializer!.every((tensor) => tensor.data_type === ONNX_TYPE.FLOAT16));
    }
  });

  it('--keep-io-types keeps graph inputs and outputs float32 with Casts at the boundary', async (t) => {
    for (const file of ['mlp.onnx', 'gpt-block.onnx', 'if-subgraph.onnx']) {
      const { model, error, session } = await convertFile(samplePath(file), 'fp16', { keepIoTypes: true });
      t.diagnostic(`${file} fp16 --keep-io-types: cosine ${error.cosine.toFixed(7)}`);
      assert.ok(session.inputs.every((type) => type !== 'float16'), `${file} inputs ${session.inputs}`);
      assert.deepStrictEqual(session.outputs, ['float32']);
      assert.ok(error.cosine > 0.9999);
      const output = model.proto.graph!.output![0]!.name!;
      const last = model.proto.graph!.node!.find((node) => node.output!.includes(output))!;
      assert.equal(last.op_type, 'Cast', `${file}: its output is cast back to float32`);
      assert.equal(Number(last.attribute![0]!.i), ONNX_TYPE.FLOAT32);
    }
  });
});

/** The recognizer's reading of a line of handwritten MNIST digits (greedy CTC over its 6625 classes). */
async function readTextLine(file: string, line: ort.Tensor): Promise<string> {
  const keys = (await fs.readFile(path.join(OCR_MODELS_DIR, 'ppocr_keys_v1.txt'), 'utf8')).split('\n');
  const session = await ort.InferenceSession.create(file);
  try {
    const input = session.inputMetadata[0] as { type?: string };
    const feed = input.type === 'float16' ? new ort.Tensor('float16', Uint16Array.from(line.data as Float32Array, floatToHalfBits), line.dims) : line;
    const output = Object.values(await session.run({ x: feed }))[0]!;
    const probabilities = output.type === 'float16' ? halvesToFloat32(output.data as Uint16Array) : (output.data as Float32Array);
    return decodeCtc(probabilities, Number(output.dims[2]), keys);
  } finally {
    await session.release();
  }
}

describe('fp16 activation guard (with calibration data)', () => {
  /**
   * x -> MatMul (gain ~400) -> big (~1.3e5, past float16) -> Relu -> Mul 1/400 -> y. The Relu keeps
   * onnxruntime from folding the Mul into the MatMul as a scale, which would hide the overflow.
   */
  function hotModel(): OnnxModel {
    const features = 8;
    const proto = makeModel(
      makeGraph({
        name: 'hot',
        nodes: [makeNode('MatMul', ['x', 'W'], ['big']), makeNode('Relu', ['big'], ['positive']), makeNode('Mul', ['positive', 'shrink'], ['y'])],
        inputs: [makeValueInfo('x', 'float32', [2, features])],
        outputs: [makeValueInfo('y', 'float32', [2, features]), makeValueInfo('big', 'float32', [2, features])],
        initializers: [makeFloatTensor('W', [features, features], Float32Array.from({ length: features * features }, (_, i) => 400 + (i % 7))), makeFloatTensor('shrink', [1], [1 / 400])],
      }),
      { '': 13 },
    );
    return new OnnxModel(proto, path.join(dir, 'hot.onnx'), false);
  }
  const feeds = () => ({ x: new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => 30 + i), [2, 8]) });

  // onnxruntime's CPU provider runs float16 MatMul through float32 with casts of its own and drops the
  // lossy round trip (measured: the uncalibrated model's 'big' comes out 107921, not inf), so the overflow
  // shows on GPU providers only. The test checks what the guard decides, from the measured magnitudes.
  it('keeps nodes whose calibrated outputs near float16 range (and their readers) in float32; without calibration they compute in float16', async () => {
    const source = path.join(dir, 'hot.onnx');
    await saveOnnxModel(hotModel(), source, { force: true });
    const reference = await ort.InferenceSession.create(source);
    const expected = await reference.run(feeds());
    await reference.release();
    assert.ok(Math.max(...(expected.big!.data as Float32Array)) > 65504, 'the fixture must pass float16 range');
    for (const calibrated of [false, true]) {
      const model = hotModel();
      const options = defaultQuantizeOptions('fp16', { keepIoTypes: true, ...(calibrated ? { calibration: { source: 'test', samples: [feeds()] } } : {}) });
      const decisions = await convertToHalfPrecision({ model, options, log: quiet });
      const computesIn = (opType: string) => {
        const node = model.proto.graph!.node!.find((candidate) => candidate.op_type === opType)!;
        const weight = model.proto.graph!.initializer!.find((tensor) => node.input!.includes(tensor.name!));
        return weight?.data_type;
      };
      const expectedType = calibrated ? ONNX_TYPE.FLOAT32 : ONNX_TYPE.FLOAT16;
      assert.equal(computesIn('MatMul'), expectedType, 'MatMul: hot output');
      assert.equal(computesIn('Mul'), expectedType, 'Mul: reads the hot Relu output');
      if (calibrated) assert.match(decisions.find((decision) => decision.weight === 'W')!.reason ?? '', /float32/);
      const file = path.join(dir, `hot.${calibrated}.onnx`);
      await saveOnnxModel(model, file, { force: true });
      const session = await ort.InferenceSession.create(file);
      const actual = (await session.run(feeds())).y!.data as Float32Array;
      await session.release();
      for (const [index, value] of actual.entries()) {
        const want = (expected.y!.data as Float32Array)[index]!;
        assert.ok(Math.abs(value - want) <= 2e-3 * Math.abs(want), `${value} vs ${want}`);
      }
    }
  });
});

describe('fp16 on PP-OCRv4 rec (real model, opset 9)', () => {
  it('converts all 309 weights, halves the file and reads a real text line the same (reported)', async (t) => {
    const source = samplePath('ch_PP-OCRv4_rec_infer.onnx');
    const line = digitLineTensor('31415926', 5);
    const { decisions, error, fileBytes, file } = await convertFile(source, 'fp16', {}, { x: line });
    const before = (await fs.stat(source)).size;
    const [expected, actual] = [await readTextLine(source, line), await readTextLine(file, line)];
    t.diagnostic(
      `PP-OCRv4 rec fp16: cosine ${error.cosine.toFixed(7)}, max abs error ${error.maxAbsError.toExponential(2)}, top-1 ${error.top1Agreement}, reads '${actual}' (float: '${expected}'), ${before} -> ${fileBytes} bytes`,
    );
    assert.ok(decisions.every((decision) => decision.action === 'quantized'));
    assert.ok(fileBytes < before * 0.52);
    // Measured 0.999999; softmax probabilities move by < 0.005.
    assert.ok(error.cosine > 0.9999, `cosine ${error.cosine}`);
    assert.equal(error.top1Agreement, 1);
    assert.equal(actual, expected);
  });
});

describe('fp16 on PP-OCRv4 det (Resize on the block list, a BatchNorm variance beyond float16)', () => {
  it('keeps Resize and the overflowing BatchNorm in float32 and still runs (reported)', async (t) => {
    // Dark 4-pixel lines on a light page, in PaddleOCR's normalized range: the detector marks them as text
    // (the shared sine sample gives an all-zero map, which any model matches).
    const page = Float32Array.from({ length: 3 * 64 * 64 }, (_, index) => {
      const [row, column] = [Math.floor((index % 4096) / 64), index % 64];
      return row % 16 < 4 && column > 8 && column < 56 ? -2 : 2;
    });
    const feeds = { x: new ort.Tensor('float32', page, [1, 3, 64, 64]) };
    const { decisions, error } = await convertFile(samplePath('ch_PP-OCRv4_det_infer.onnx'), 'fp16', {}, feeds);
    t.diagnostic(`PP-OCRv4 det fp16: cosine ${error.cosine.toFixed(6)}, max abs error ${error.maxAbsError.toExponential(2)}`);
    const reasons = new Set(decisions.filter((decision) => decision.action === 'skipped').map((decision) => decision.reason));
    assert.ok(reasons.has('read only by nodes kept float32 (Resize is on the op block list)'), [...reasons].join('\n'));
    assert.ok([...reasons].some((reason) => /values up to 9\.79e\+7 overflow float16/.test(reason!)));
    // Measured 0.99988: float16 moves text-map probabilities at region edges by a few hundredths.
    assert.ok(error.cosine > 0.999, `cosine ${error.cosine}`);
  });
});

describe('bf16 (weight storage; onnxruntime CPU has no bfloat16 compute kernels)', () => {
  it('rounds float32 to the nearest bfloat16, ties to even', () => {
    assert.equal(floatToBfloat16Bits(1), 0x3f80);
    assert.equal(floatToBfloat16Bits(-2), 0xc000);
    assert.equal(floatToBfloat16Bits(1 + 2 ** -8), 0x3f80, 'tie, even stays');
    assert.equal(floatToBfloat16Bits(1 + 3 * 2 ** -8), 0x3f82, 'tie, odd rounds up');
    assert.equal(floatToBfloat16Bits(1 + 2 ** -8 + 2 ** -15), 0x3f81, 'above the tie');
    assert.equal(floatToBfloat16Bits(-0), 0x8000);
    assert.equal(floatToBfloat16Bits(Infinity), 0x7f80);
    assert.equal(floatToBfloat16Bits(3.4e38), 0x7f7f, 'finite values past bfloat16 saturate');
    assert.equal(floatToBfloat16Bits(NaN) & 0x7fc0, 0x7fc0, 'NaN stays NaN');
  });

  it('gpt-block: weights stored as bfloat16 behind Casts, compute and I/O float32, runs in onnxruntime', async (t) => {
    const { model, decisions, error, session } = await convertFile(samplePath('gpt-block.onnx'), 'bf16');
    t.diagnostic(`gpt-block bf16: cosine ${error.cosine.toFixed(7)}, max abs error ${error.maxAbsError.toExponential(2)}`);
    const stored = floatInitializers(model, ONNX_TYPE.BFLOAT16!);
    const quantized = decisions.filter((decision) => decision.action === 'quantized');
    assert.equal(stored.length, quantized.length);
    assert.ok(quantized.length >= 20);
    assert.equal(castsTo(model, ONNX_TYPE.FLOAT32!).length, quantized.length, 'one Cast to float32 per stored weight');
    assert.deepStrictEqual(session.outputs, ['float32']);
    // bfloat16 keeps 8 significant bits (relative 2^-9 per weight); compute is float32.
    assert.ok(error.cosine > 0.9999, `cosine ${error.cosine}`);
    // The four scalars would cost more as Cast nodes than they save.
    assert.deepStrictEqual(
      decisions.filter((decision) => decision.action === 'skipped').map((decision) => decision.weight),
      ['attn.scale', 'gelu.half', 'gelu.one', 'gelu.rsqrt2'],
    );
  });

  it('refuses a model below opset 13, where Cast cannot read bfloat16', async () => {
    const proto = makeModel(
      makeGraph({
        name: 'old',
        inputs: [makeValueInfo('x', 'float32', [1, 16])],
        outputs: [makeValueInfo('y', 'float32', [1, 16])],
        initializers: [makeFloatTensor('W', [16, 16], new Float32Array(256))],
        nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
      }),
      { '': 12 },
    );
    const model = new OnnxModel(proto, path.join(dir, 'old.onnx'), false);
    await assert.rejects(convertToHalfPrecision({ model, options: defaultQuantizeOptions('bfloat16'), log: quiet }), (error: Error) => {
      return error instanceof UsageError && /opset 13/.test(error.message);
    });
  });
});
