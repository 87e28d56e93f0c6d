import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { collectInputHessians, conv2dPatches, type InputHessian } from '../src/calibration/input-hessian.js';
import { makeFloatTensor, makeGraph, makeModel, makeNode, makeValueInfo } from '../src/onnx/builders.js';
import { OnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { SeededRandom } from '../src/numeric/seeded-random.js';
import { GPTQ_DAMPENING, gptq, upperCholeskyOfInverse } from '../src/quantize/algorithms/gptq.js';
import type { BlockLayout, QuantizationGrid, QuantizedWeight } from '../src/quantize/algorithms/quantization-grid.js';
import { roundToNearest } from '../src/quantize/algorithms/round-to-nearest.js';
import { INT4_GRIDS } from '../src/quantize/kernels/int4-grids.js';
import { int8WeightGrid } from '../src/quantize/kernels/int8-grids.js';
import { defaultQuantizeOptions } from '../src/quantize/quantize-options.js';
import { quantizeModel } from '../src/quantize/quantize-model.js';
import { collectWeightHessians } from '../src/quantize/onnx/weight-hessians.js';
import { renderQuantizeReport } from '../src/quantize/render-quantize-report.js';
import { silentLogger } from '../src/terminal/logger.js';
import { fixturesDir } from './support/repo-paths.js';
import { runCli } from './support/run-cli.js';

const random = new SeededRandom(11);
const uniform = (count: number, scale = 1) => Float32Array.from({ length: count }, () => (random.next() * 2 - 1) * scale);

const FACTORS = 4;

/** X [samples, K] with strongly correlated features (a few latent factors mixed by `mixing`), as real activations are. */
function correlatedInputs(samples: number, features: number, mixing = uniform(FACTORS * features)): Float64Array {
  const factors = FACTORS;
  const inputs = new Float64Array(samples * features);
  for (let s = 0; s < samples; s++) {
    const latent = uniform(factors);
    for (let k = 0; k < features; k++) {
      let value = 0.05 * (random.next() * 2 - 1);
      for (let f = 0; f < factors; f++) value += latent[f]! * mixing[f * features + k]!;
      inputs[s * features + k] = value;
    }
  }
  return inputs;
}

function hessianOf(inputs: Float64Array, features: number): InputHessian {
  const samples = inputs.length / features;
  const matrix = new Float64Array(features * features);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < features; i++) {
      for (let j = 0; j < features; j++) matrix[i * features + j]! += (inputs[s * features + i]! * inputs[s * features + j]!) / samples;
    }
  }
  return { features, matrices: [matrix], count: samples };
}

function dequantize(result: QuantizedWeight, layout: BlockLayout, grid: QuantizationGrid): Float64Array {
  const values = new Float64Array(layout.rows * layout.columns);
  for (let row = 0; row < layout.rows; row++) {
    for (let column = 0; column < layout.columns; column++) {
      const block = Math.floor(row / layout.blockSize) * layout.columns + column;
      values[row * layout.columns + column] = grid.decode(result.codes[row * layout.columns + column]!, { scale: result.scales[block]!, zeroPoint: result.zeroPoints[block]! });
    }
  }
  return values;
}

/** ||X (W - Q)||^2: the layer's output error, what GPTQ minimises. */
function outputError(inputs: Float64Array, weights: Float32Array, quantized: Float64Array, layout: BlockLayout): number {
  const { rows, columns } = layout;
  let total = 0;
  for (let s = 0; s < inputs.length / rows; s++) {
    for (let n = 0; n < columns; n++) {
      let difference = 0;
      for (let k = 0; k < rows; k++) difference += inputs[s * rows + k]! * (weights[k * columns + n]! - quantized[k * columns + n]!);
      total += difference * difference;
    }
  }
  return total;
}

const GRIDS: Array<[string, QuantizationGrid, number]> = [
  ['int8 per-channel', int8WeightGrid(true), 64],
  ['int4 block 16', INT4_GRIDS['uint4-asymmetric'], 16],
];

describe('GPTQ', () => {
  it('U^T U is the inverse of the dampened Hessian', () => {
    const features = 12;
    const hessian = hessianOf(correlatedInputs(40, features), features).matrices[0]!;
    const inverse = upperCholeskyOfInverse(hessian, features);
    let trace = 0;
    for (let k = 0; k < features; k++) trace += hessian[k * features + k]!;
    for (let i = 0; i < features; i++) {
      for (let j = 0; j < i; j++) assert.equal(inverse[i * features + j], 0, 'upper triangular');
      for (let j = 0; j < features; j++) {
        // (H + damp I) (U^T U) should be the identity.
        let product = 0;
        for (let k = 0; k < features; k++) {
          let inverseEntry = 0;
          for (let m = 0; m < features; m++) inverseEntry += inverse[m * features + k]! * inverse[m * features + j]!;
          product += (hessian[i * features + k]! + (i === k ? (GPTQ_DAMPENING * trace) / features : 0)) * inverseEntry;
        }
        assert.ok(Math.abs(product - (i === j ? 1 : 0)) < 1e-8, `(${i}, ${j}): ${product}`);
      }
    }
  });

  for (const [label, grid, rows] of GRIDS) {
    it(`${label}: with uncorrelated inputs (diagonal H) it picks exactly the round-to-nearest codes`, () => {
      const layout = { rows, columns: 8, blockSize: label.startsWith('int8') ? rows : 16 };
      const weights = uniform(layout.rows * layout.columns);
      const matrix = new Float64Array(rows * rows);
      for (let k = 0; k < rows; k++) matrix[k * rows + k] = 0.5 + random.next();
      const fromGptq = gptq(weights, layout, grid, { features: rows, matrices: [matrix], count: 1 });
      const fromRtn = roundToNearest(weights, layout, grid);
      assert.deepEqual(fromGptq.codes, fromRtn.codes);
      assert.deepEqual(fromGptq.scales, fromRtn.scales);
      assert.deepEqual(fromGptq.zeroPoints, fromRtn.zeroPoints);
    });

    it(`${label}: with correlated inputs its layer output error is well below round to nearest's`, () => {
      const layout = { rows, columns: 16, blockSize: label.startsWith('int8') ? rows : 16 };
      const weights = uniform(layout.rows * layout.columns);
      const mixing = uniform(FACTORS * rows);
      const calibration = correlatedInputs(256, rows, mixing);
      const held = correlatedInputs(256, rows, mixing);
      const rtn = outputError(held, weights, dequantize(roundToNearest(weights, layout, grid), layout, grid), layout);
      const calibrated = outputError(held, weights, dequantize(gptq(weights, layout, grid, hessianOf(calibration, rows)), layout, grid), layout);
      assert.ok(calibrated < 0.6 * rtn, `GPTQ ${calibrated.toExponential(3)} vs RTN ${rtn.toExponential(3)} on held-out inputs`);
    });
  }
});

describe('input Hessians', () => {
  let workDir: string;
  before(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-gptq-'));
  });
  after(async () => {
    await fs.rm(workDir, { recursive: true, force: true });
  });

  it('im2col patches in the weight order reproduce onnxruntime Conv outputs (pads, strides, dilations, groups)', async () => {
    const [groups, groupChannels, outputs] = [2, 3, 4];
    const dims = [outputs, groupChannels, 3, 2];
    const attributes = { group: groups, kernel_shape: [3, 2], pads: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 2] };
    const weights = uniform(dims.reduce((a, b) => a * b, 1));
    const file = path.join(workDir, 'conv.onnx');
    const proto = makeModel(
      makeGraph({
        name: 'conv',
        nodes: [makeNode('Conv', ['x', 'W'], ['y'], attributes)],
        inputs: [makeValueInfo('x', 'float32', [1, groups * groupChannels, 7, 6])],
        outputs: [makeValueInfo('y', 'float32', [1, outputs, null, null])],
        initializers: [makeFloatTensor('W', dims, weights)],
      }),
      { '': 13 },
    );
    await saveOnnxModel(new OnnxModel(proto, file, false), file, { externalData: 'never' });
    const input = uniform(groups * groupChannels * 7 * 6);
    const session = await ort.InferenceSession.create(file);
    const expected = (await session.run({ x: new ort.Tensor('float32', input, [1, groups * groupChannels, 7, 6]) })).y!;
    await session.release();
    const [, , outHeight, outWidth] = expected.dims.map(Number) as [number, number, number, number];
    const extractor = conv2dPatches({ groups, groupChannels, kernel: [3, 2], strides: [2, 1], dilations: [1, 2], pads: [1, 0, 2, 1] });
    const perGroup = outputs / groups;
    let position = 0;
    extractor.forEachVector(input, [1, groups * groupChannels, 7, 6], (group, vector) => {
      const pixel = position++ % (outHeight * outWidth);
      for (let o = 0; o < perGroup; o++) {
        const output = group * perGroup + o;
        let sum = 0;
        for (let f = 0; f < extractor.features; f++) sum += vector[f]! * weights[output * extractor.features + f]!;
        const actual = (expected.data as Float32Array)[output * outHeight * outWidth + pixel]!;
        assert.ok(Math.abs(sum - actual) < 1e-5, `output ${output} pixel ${pixel}: ${sum} vs ${actual}`);
      }
    });
    assert.equal(position, groups * outHeight * outWidth);
  });

  it('averages E[x x^T] over every sample, symmetric', async () => {
    const file = path.join(workDir, 'matmul.onnx');
    const proto = makeModel(
      makeGraph({
        name: 'mm',
        nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
        inputs: [makeValueInfo('x', 'float32', [2, 3])],
        outputs: [makeValueInfo('y', 'float32', [2, 2])],
        initializers: [makeFloatTensor('W', [3, 2], uniform(6))],
      }),
      { '': 13 },
    );
    const samples = [Float32Array.of(1, 2, 3, 0, 1, 0), Float32Array.of(2, 0, 0, 1, 1, 1)].map((data) => ({ x: new ort.Tensor('float32', data, [2, 3]) }));
    const { lastAxisRows } = await import('../src/calibration/input-hessian.js');
    const hessians = await collectInputHessians(new OnnxModel(proto, file, false), new Map([['W', { tensor: 'x', extractor: lastAxisRows(3) }]]), { source: 'test', samples });
    const rows = [[1, 2, 3], [0, 1, 0], [2, 0, 0], [1, 1, 1]];
    const expected = Array.from({ length: 9 }, (_, index) => rows.reduce((sum, row) => sum + row[Math.floor(index / 3)]! * row[index % 3]!, 0) / rows.length);
    assert.deepEqual(Array.from(hessians.get('W')!.matrices[0]!), expected);
    assert.equal(hessians.get('W')!.count, 4);
  });
});

describe('Hessian memory budget', () => {
  it('past the budget, further weights fall back to round to nearest with the reason', async () => {
    const { loadOnnxModel } = await import('../src/onnx/onnx-model.js');
    const { findWeightUses } = await import('../src/quantize/onnx/weight-uses.js');
    const { WeightSelection } = await import('../src/quantize/weight-selection.js');
    const { loadCalibrationForModel } = await import('../src/calibration/load-calibration-for-model.js');
    const modelPath = path.join(fixturesDir, 'gpt-block.onnx');
    const model = await loadOnnxModel(modelPath);
    const { eligible } = findWeightUses(model, { inputs: { MatMul: 1 }, selection: WeightSelection.all() });
    const calibration = await loadCalibrationForModel(path.join(fixturesDir, '..', 'calibration', 'gpt-block-ids.npz'), modelPath);
    const firstBytes = eligible[0]!.dims[0]! ** 2 * 8;
    const hessians = await collectWeightHessians(model, eligible, calibration, firstBytes);
    assert.equal(hessians.calibrations.size, 1);
    assert.ok(hessians.calibrations.has(eligible[0]!.weight.name!));
    assert.ok(hessians.reasons.size >= 1);
    for (const reason of hessians.reasons.values()) assert.match(reason, /Hessian memory budget .* is spent/);
  });
});

describe('quantize --algo gptq', () => {
  it('lowers the int4 output error of the GPT block against round to nearest on its calibration inputs', async () => {
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-gptq-cli-'));
    try {
      const cosine = async (algo: string) => {
        const result = await runCli([
          'quantize', path.join(fixturesDir, 'gpt-block.onnx'), '-o', path.join(workDir, `${algo}.onnx`), '--scheme', 'int4', '--block-size', '16',
          '--algo', algo, '--calibration', path.join(fixturesDir, '..', 'calibration', 'gpt-block-ids.npz'), '--json',
        ]);
        assert.equal(result.code, 0, result.stderr);
        const report = JSON.parse(result.stdout);
        if (algo === 'gptq') assert.ok(report.tensors.decisions.some((decision: { detail?: { algorithm?: string } }) => decision.detail?.algorithm === 'gptq'));
        return report.verification.outputs[0].cosine as number;
      };
      const rtn = await cosine('rtn');
      const calibrated = await cosine('gptq');
      assert.ok(1 - calibrated < 0.8 * (1 - rtn), `cosine gptq ${calibrated} vs rtn ${rtn}`);
    } finally {
      await fs.rm(workDir, { recursive: true, force: true });
    }
  });

  it('is a usage error without calibration, and for schemes it does not apply to', async () => {
    const model = path.join(fixturesDir, 'mlp.onnx');
    const noCalibration = await runCli(['quantize', model, '-o', path.join(os.tmpdir(), 'never.onnx'), '--scheme', 'int4', '--algo', 'gptq']);
    assert.equal(noCalibration.code, 2);
    assert.match(noCalibration.stderr, /--algo gptq needs calibration data/);
    const nf4 = await runCli(['quantize', model, '-o', path.join(os.tmpdir(), 'never.onnx'), '--scheme', 'nf4', '--algo', 'gptq']);
    assert.equal(nf4.code, 2);
    assert.match(nf4.stderr, /--algo gptq is not available for --scheme nf4 \(available: rtn\)/);
  });

  it("library: int8 GPTQ quantizes a CNN's Convs from their im2col Hessians and reports the algorithm per weight", async () => {
    const samples = Array.from({ length: 3 }, () => ({ image: new ort.Tensor('float32', uniform(1 * 3 * 16 * 16), [1, 3, 16, 16]) }));
    const output = path.join(os.tmpdir(), `modelpress-gptq-cnn-${process.pid}.onnx`);
    try {
      const report = await quantizeModel({
        input: path.join(fixturesDir, 'cnn-batchnorm.onnx'), output, force: true, externalData: 'never', verify: true, verifySamples: 3, shapes: {}, gates: {}, log: silentLogger,
        options: defaultQuantizeOptions('int8', { algo: 'gptq', calibration: { source: 'test', samples } }),
      });
      const convs = report.tensors.decisions.filter((decision) => decision.opType === 'Conv' && decision.action === 'quantized');
      assert.ok(convs.length > 0 && convs.every((decision) => decision.detail?.algorithm === 'gptq'), JSON.stringify(convs.map((decision) => decision.detail)));
      assert.ok(report.verification!.outputs[0]!.cosine > 0.999);
      // The summary says what calibration did: GPTQ per weight, and the biases corrected alongside.
      assert.match(renderQuantizeReport(report), new RegExp(`Calibration  ${convs.length + 1} weights gptq; ${convs.length + 1} biases corrected for rounding`));
    } finally {
      await fs.rm(output, { force: true });
    }
  });
});
