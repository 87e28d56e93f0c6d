import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { makeFloatTensor, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../src/onnx/builders.js';
import { ONNX_TYPE } from '../src/onnx/data-types.js';
import { OnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { weightAlgorithm } from '../src/quantize/algorithms/weight-algorithms.js';
import { INT8_GRIDS } from '../src/quantize/kernels/int8-grids.js';
import { roundHalfToEven } from '../src/numeric/round-half-to-even.js';
import { quantizeAlongAxis } from '../src/quantize/onnx/qdq-weights.js';
import { makeWorkDir } from './support/int8-harness.js';
import path from 'node:path';
import { promises as fs } from 'node:fs';

const rtn = weightAlgorithm('rtn');
const f32 = (values: number[]) => Float32Array.from(values);
const int8Bytes = (codes: number[]) => Array.from(new Uint8Array(Int8Array.from(codes).buffer));

describe('int8 grids: scale and zero point rules (hand-computed)', () => {
  it('rounds half to even, as numpy.round and QuantizeLinear do', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.4999, -2.5001].map(roundHalfToEven), [0, 2, 2, 4, 0, -2, -2, 2, -3]);
  });

  it('int8 symmetric per tensor: scale absmax/127, zero point 0, codes in [-127, 127]', () => {
    // absmax 127/64 gives scale 1/64 exactly; 2.5/64 and 3.5/64 are ties (-> 2 and 4), -0.5/64 -> 0.
    const values = f32([0.5, -1.984375, 2.5 / 64, 3.5 / 64, -0.5 / 64]);
    const result = quantizeAlongAxis(values, [5], undefined, INT8_GRIDS.int8Symmetric, rtn);
    assert.deepEqual(Array.from(result.scales), [1 / 64]);
    assert.deepEqual(Array.from(result.zeroPoints), [0]);
    assert.deepEqual(Array.from(result.codes), int8Bytes([32, -127, 2, 4, 0]));
  });

  it('uint8 asymmetric per tensor: range widened to include 0, scale (max-min)/255, zero point round(-min/scale)', () => {
    // min -1, max 3: scale 4/255, zero point round(63.75) = 64; -1 -> 0, 0.5 -> 31.875 -> 32 + 64, 3 -> 191.25 -> 191 + 64.
    const result = quantizeAlongAxis(f32([-1, 0.5, 3]), [3], undefined, INT8_GRIDS.uint8Asymmetric, rtn);
    assert.deepEqual(Array.from(result.scales), [Math.fround(4 / 255)]);
    assert.deepEqual(Array.from(result.zeroPoints), [64]);
    assert.deepEqual(Array.from(result.codes), [0, 96, 255]);
    // All positive: min becomes 0, zero point 0.
    const positive = quantizeAlongAxis(f32([0.5, 2.55]), [2], undefined, INT8_GRIDS.uint8Asymmetric, rtn);
    assert.deepEqual([positive.scales[0], positive.zeroPoints[0]], [Math.fround(2.55 / 255), 0]);
    assert.deepEqual(Array.from(positive.codes), [50, 255]);
  });

  it('an all-zero block gets scale 1 (not 0, which would divide by zero when decoding)', () => {
    for (const grid of [INT8_GRIDS.int8Symmetric, INT8_GRIDS.uint8Asymmetric, INT8_GRIDS.int8Asymmetric]) {
      assert.deepEqual(grid.fromRange(0, 0), { scale: 1, zeroPoint: 0 }, grid.name);
    }
    assert.deepEqual(INT8_GRIDS.uint8Offset128.fromRange(0, 0), { scale: 1, zeroPoint: 128 });
  });

  it('per-channel MatMul weight [K, N]: one scale per output column (axis 1)', () => {
    // Columns: absmax 127/32 (scale 1/32), 127/64 (scale 1/64), all zero (scale 1). 1.5/32 is a tie -> 2.
    const weight = f32([3.96875, -0.5, 0, 1.5 / 32, 1.984375, 0]);
    const result = quantizeAlongAxis(weight, [2, 3], 1, INT8_GRIDS.int8Symmetric, rtn);
    assert.deepEqual(Array.from(result.scales), [1 / 32, 1 / 64, 1]);
    assert.deepEqual(Array.from(result.codes), int8Bytes([127, -32, 0, 2, 127, 0]));
  });

  it('per-channel Conv weight [M, C, kh, kw] and Gemm transB weight [N, K]: one scale per axis-0 slice, codes stay in place', () => {
    // Channel 0 [127/32, -127/64]: scale 1/32, -63.5 is a tie -> -64. Channel 1 [127/128, 1/4]: scale 1/128.
    const conv = quantizeAlongAxis(f32([3.96875, -1.984375, 0.9921875, 0.25]), [2, 1, 2, 1], 0, INT8_GRIDS.int8Symmetric, rtn);
    assert.deepEqual(Array.from(conv.scales), [1 / 32, 1 / 128]);
    assert.deepEqual(Array.from(conv.codes), int8Bytes([127, -64, 127, 32]));
    const gemm = quantizeAlongAxis(f32([3.96875, 1, 0.9921875, -0.5]), [2, 2], 0, INT8_GRIDS.int8Symmetric, rtn);
    assert.deepEqual(Array.from(gemm.scales), [1 / 32, 1 / 128]);
    assert.deepEqual(Array.from(gemm.codes), int8Bytes([127, 32, 127, -64]));
  });

  it('uint8 with shared zero point 128 (ConvInteger): per-channel scale max(max/127, -min/128)', () => {
    // Channel 0 [-1, 0.5]: scale max(0.5/127, 1/128) = 1/128 -> codes 0, 192. Channel 1 [0, 127/64]: scale 1/64 -> 128, 255.
    const result = quantizeAlongAxis(f32([-1, 0.5, 0, 1.984375]), [2, 2, 1, 1], 0, INT8_GRIDS.uint8Offset128, rtn);
    assert.deepEqual(Array.from(result.scales), [1 / 128, 1 / 64]);
    assert.deepEqual(Array.from(result.zeroPoints), [128, 128]);
    assert.deepEqual(Array.from(result.codes), [0, 192, 128, 255]);
  });

  it('int8 asymmetric activations: zero point round(-128 - min/scale)', () => {
    // [0, 2.55]: scale 0.01, zero point -128. [-127.5/128, 127.5/128]: scale 1/128, -128 + 127.5 = -0.5 -> 0
    // (half to even); [-129.5/128, 125.5/128]: -128 + 129.5 = 1.5 -> 2.
    assert.deepEqual(INT8_GRIDS.int8Asymmetric.fromRange(0, 2.55), { scale: Math.fround(2.55 / 255), zeroPoint: -128 });
    assert.deepEqual(INT8_GRIDS.int8Asymmetric.fromRange(-127.5 / 128, 127.5 / 128), { scale: 1 / 128, zeroPoint: 0 });
    assert.deepEqual(INT8_GRIDS.int8Asymmetric.fromRange(-129.5 / 128, 125.5 / 128), { scale: 1 / 128, zeroPoint: 2 });
    assert.deepEqual(INT8_GRIDS.int8Asymmetric.fromRange(-3, -1), { scale: Math.fround(3 / 255), zeroPoint: 127 });
  });

  it('encodes exactly as onnxruntime QuantizeLinear does (rounding ties, clamping)', async () => {
    const grid = INT8_GRIDS.int8Asymmetric;
    const { scale, zeroPoint } = grid.fromRange(-1, 1.5);
    const values = Float32Array.from({ length: 401 }, (_, index) => -1.2 + (index * 3) / 400);
    for (let index = 0; index < 40; index++) values[index] = Math.fround((index - 20 + 0.5) * scale); // ties
    const proto = makeModel(
      makeGraph({
        name: 'quantize',
        inputs: [makeValueInfo('x', 'float32', [values.length])],
        outputs: [makeValueInfo('q', 'int8', [values.length])],
        initializers: [makeFloatTensor('scale', [], [scale]), makeTensor('zero_point', ONNX_TYPE.INT8!, [], Int8Array.of(zeroPoint))],
        nodes: [makeNode('QuantizeLinear', ['x', 'scale', 'zero_point'], ['q'])],
      }),
      { '': 13 },
    );
    const directory = await makeWorkDir();
    try {
      const file = path.join(directory, 'quantize.onnx');
      await saveOnnxModel(new OnnxModel(proto, file, false), file);
      const session = await ort.InferenceSession.create(file);
      const { q } = await session.run({ x: new ort.Tensor('float32', values, [values.length]) });
      await session.release();
      assert.deepEqual(Array.from(values, (value) => grid.encode(value, { scale, zeroPoint })), Array.from(q!.data as Int8Array));
    } finally {
      await fs.rm(directory, { recursive: true, force: true });
    }
  });
});
