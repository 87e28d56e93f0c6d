import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { AbsHistogram } from '../src/calibration/abs-histogram.js';
import { withActivationProbe } from '../src/calibration/activation-probe.js';
import { observeRanges } from '../src/calibration/activation-statistics.js';
import { CALIBRATION_METHODS, calibrateRanges, HISTOGRAM_BINS, keptRange } from '../src/calibration/calibration-methods.js';
import { entropyThresholdBins } from '../src/calibration/entropy-threshold.js';
import { ModelpressError } from '../src/errors.js';
import { SeededRandom } from '../src/numeric/seeded-random.js';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { samplePath } from './support/onnx-samples.js';

/**
 * KL(P || Q) for one candidate, computed the long way from the definition in entropy-threshold.ts: build
 * P (clipped mass in the last kept bin) and Q (each level's mass spread over its non-empty bins) as arrays.
 */
function divergenceByDefinition(counts: number[], kept: number, levels: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const p = counts.slice(0, kept);
  p[kept - 1]! += counts.slice(kept).reduce((a, b) => a + b, 0);
  const q = new Array<number>(kept).fill(0);
  for (let level = 0; level < levels; level++) {
    const start = Math.floor((level * kept) / levels);
    const end = Math.floor(((level + 1) * kept) / levels);
    const slice = counts.slice(start, end);
    const mass = slice.reduce((a, b) => a + b, 0);
    const nonEmpty = slice.filter((count) => count > 0).length;
    for (let bin = start; bin < end; bin++) q[bin] = counts[bin]! > 0 ? mass / nonEmpty : 0;
  }
  const qTotal = q.reduce((a, b) => a + b, 0);
  let divergence = 0;
  for (let bin = 0; bin < kept; bin++) {
    if (p[bin] === 0) continue;
    const pn = p[bin]! / total;
    divergence += pn * Math.log(pn / (q[bin]! > 0 ? q[bin]! / qTotal : 1e-12));
  }
  return divergence;
}

function bestByDefinition(counts: number[], levels: number): number {
  let best = counts.length;
  let bestDivergence = Infinity;
  for (let kept = levels; kept <= counts.length; kept++) {
    if (counts.slice(0, kept).every((count) => count === 0)) continue;
    const divergence = divergenceByDefinition(counts, kept, levels);
    if (divergence < bestDivergence - 1e-12) {
      bestDivergence = divergence;
      best = kept;
    }
  }
  return best;
}

function heavyTailedHistogram(bins: number, seed: number): AbsHistogram {
  const random = new SeededRandom(seed);
  const values = Float32Array.from({ length: 20000 }, () => random.normal(1) * (random.next() < 0.002 ? 40 : 1));
  const limit = values.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
  const histogram = new AbsHistogram(limit, bins);
  histogram.add(values);
  return histogram;
}

describe('entropy (KL) threshold search', () => {
  it('picks the same threshold as the definition computed the long way', () => {
    for (const seed of [1, 2, 3]) {
      const histogram = heavyTailedHistogram(256, seed);
      assert.equal(entropyThresholdBins(histogram.counts, 32), bestByDefinition(Array.from(histogram.counts), 32), `seed ${seed}`);
    }
  });

  it('with 2048 bins it clips a heavy tail far below the maximum; with bins = levels (ORT defaults 128/128) it cannot', () => {
    const wide = heavyTailedHistogram(HISTOGRAM_BINS, 4);
    const threshold = entropyThresholdBins(wide.counts, 128) * wide.binWidth;
    assert.ok(threshold < 0.5 * wide.limit, `threshold ${threshold} of max ${wide.limit}`);
    assert.ok(threshold > 2, `threshold ${threshold} should keep the normal bulk`);
    const degenerate = heavyTailedHistogram(128, 4);
    assert.equal(entropyThresholdBins(degenerate.counts, 128), 128, 'one candidate: the full range, i.e. min/max');
  });
});

describe('|x| histograms and the range rules', () => {
  it('percentile: the first bin edge with that share of |x| below it', () => {
    const histogram = new AbsHistogram(10, 10);
    histogram.add(Float32Array.from([0.5, -1.5, 2.5, -3.5, 4.5, 5.5, 6.5, -7.5, 8.5, 100]));
    assert.deepEqual(Array.from(histogram.counts), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]); // 100 saturates into the last bin
    assert.equal(histogram.percentile(50), 5);
    assert.equal(histogram.percentile(95), 10);
    assert.equal(histogram.percentile(10), 1);
  });

  it('leaves masked last-axis features out', () => {
    const histogram = new AbsHistogram(4, 4);
    histogram.add(Float32Array.from([0.5, 3.5, 1.5, 3.5]), Uint8Array.of(0, 1)); // two rows of [kept, excluded]
    assert.deepEqual(Array.from(histogram.counts), [1, 1, 0, 0]);
  });

  it('histogram methods clip |x| at the threshold on both sides, within the observed range', () => {
    const histogram = new AbsHistogram(5, 5);
    histogram.add(Float32Array.from([0.5, 0.5, 0.5, 1.5, 4.5]));
    assert.deepEqual(CALIBRATION_METHODS.percentile.range({ min: -1, max: 4.5 }, histogram, { percentile: 80 }), { min: -1, max: 2 });
    assert.deepEqual(CALIBRATION_METHODS.minmax.range({ min: -1, max: 4.5 }, undefined, { percentile: 80 }), { min: -1, max: 4.5 });
  });

  it('the range over kept features comes from the per-feature extremes', () => {
    const observed = { min: -9, max: 50, featureMin: Float32Array.from([-1, -9, -2]), featureMax: Float32Array.from([3, 50, 1]) };
    assert.deepEqual(keptRange(observed, Uint8Array.of(0, 1, 0)), { min: -2, max: 3 });
    assert.deepEqual(keptRange(observed, undefined), { min: -9, max: 50 });
  });
});

describe('collecting activation statistics through onnxruntime, sample by sample', () => {
  it('mlp.onnx: min/max of the input and of the hidden Relu equal those computed in JS over all samples', async () => {
    const model = await loadOnnxModel(samplePath('mlp.onnx'));
    const weights = Object.fromEntries(await Promise.all(model.proto.graph!.initializer!.map(async (tensor) => [tensor.name, await model.tensorAsFloat32(tensor)] as const)));
    const random = new SeededRandom(9);
    const samples = [0, 1, 2].map(() => ({ input: new ort.Tensor('float32', random.floats(2 * 16, 1), [2, 16]) }));
    const expected = { input: [Infinity, -Infinity], relu1: [Infinity, -Infinity] };
    const reluFeatureMax = new Float32Array(32).fill(-Infinity);
    for (const sample of samples) {
      const x = sample.input.data as Float32Array;
      for (const value of x) expected.input = [Math.min(expected.input[0]!, value), Math.max(expected.input[1]!, value)];
      for (let row = 0; row < 2; row++) {
        for (let column = 0; column < 32; column++) {
          let sum = weights['fc1.bias']![column]!;
          for (let k = 0; k < 16; k++) sum += x[row * 16 + k]! * weights['fc1.weight']![k * 32 + column]!;
          const relu = Math.max(0, sum);
          expected.relu1 = [Math.min(expected.relu1[0]!, relu), Math.max(expected.relu1[1]!, relu)];
          reluFeatureMax[column] = Math.max(reluFeatureMax[column]!, relu);
        }
      }
    }
    const calibration = { source: 'test', samples };
    const observed = await withActivationProbe(model, ['input', 'relu1'], (probe) => observeRanges(probe, calibration, new Set(['relu1'])));
    assert.deepEqual([observed.get('input')!.min, observed.get('input')!.max], expected.input);
    assert.ok(Math.abs(observed.get('relu1')!.max - expected.relu1[1]!) < 1e-5);
    assert.equal(observed.get('relu1')!.min, 0);
    assert.ok(observed.get('relu1')!.featureMax!.every((value, column) => Math.abs(value - reluFeatureMax[column]!) < 1e-5));
    assert.equal(model.proto.graph!.output!.length, 1, 'the model itself is not changed');

    const ranges = await withActivationProbe(model, ['relu1'], (probe) =>
      calibrateRanges(probe, calibration, [{ key: 'relu1', tensor: 'relu1' }], observed, 'percentile', { percentile: 50 }),
    );
    assert.ok(ranges.get('relu1')!.max < observed.get('relu1')!.max, 'percentile 50 clips');
  });

  it('a value computed inside a subgraph cannot be watched: clear error', async () => {
    const model = await loadOnnxModel(samplePath('if-subgraph.onnx'));
    await assert.rejects(withActivationProbe(model, ['then_mm'], async () => undefined), (error: unknown) => error instanceof ModelpressError && /'then_mm': it is not a value of the main graph/.test(error.message));
  });
});
