import type { ActivationProbe } from './activation-probe.js';
import { AbsHistogram } from './abs-histogram.js';
import type { CalibrationSet } from './calibration-set.js';

/**
 * Running statistics of watched tensors over the calibration samples. Memory is a few numbers per tensor
 * (plus one pair per last-axis feature where asked, and the histogram bins): activations are folded in
 * and dropped sample by sample, never kept.
 */

export interface ObservedRange {
  min: number;
  max: number;
  /** Per index of the last axis (input features of a MatMul), when asked for. */
  featureMin?: Float32Array;
  featureMax?: Float32Array;
}

/** First pass: min and max of every tensor, and per-feature min/max for the tensors in `perFeature`. */
export async function observeRanges(probe: ActivationProbe, calibration: CalibrationSet, perFeature: ReadonlySet<string> = new Set()): Promise<Map<string, ObservedRange>> {
  const ranges = new Map<string, ObservedRange>();
  await probe.forEachSample(calibration, (tensor, values, dims) => {
    let range = ranges.get(tensor);
    if (!range) {
      range = { min: Infinity, max: -Infinity };
      if (perFeature.has(tensor)) {
        const features = dims[dims.length - 1] ?? 1;
        range.featureMin = new Float32Array(features).fill(Infinity);
        range.featureMax = new Float32Array(features).fill(-Infinity);
      }
      ranges.set(tensor, range);
    }
    let min = range.min;
    let max = range.max;
    for (let index = 0; index < values.length; index++) {
      const value = values[index]!;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    range.min = min;
    range.max = max;
    const { featureMin, featureMax } = range;
    if (featureMin && featureMax) {
      const features = featureMin.length;
      if ((dims[dims.length - 1] ?? 1) !== features) throw new Error(`internal: '${tensor}' changed its last dimension between samples`);
      for (let index = 0; index < values.length; index++) {
        const feature = index % features;
        const value = values[index]!;
        if (value < featureMin[feature]!) featureMin[feature] = value;
        if (value > featureMax[feature]!) featureMax[feature] = value;
      }
    }
  });
  // A tensor empty in every sample showed nothing: an empty range.
  for (const range of ranges.values()) if (range.min > range.max) Object.assign(range, { min: 0, max: 0 });
  return ranges;
}

export interface HistogramRequest {
  key: string;
  tensor: string;
  /** Upper end of the |x| histogram (the largest |x| the first pass saw for these elements). */
  limit: number;
  /** Mask over the last axis: 1 leaves that feature out. */
  excludedFeatures?: Uint8Array;
}

/** Second pass: a histogram of |x| per request, several requests may watch one tensor. */
export async function collectHistograms(probe: ActivationProbe, calibration: CalibrationSet, requests: HistogramRequest[], bins: number): Promise<Map<string, AbsHistogram>> {
  const histograms = new Map(requests.map((request) => [request.key, new AbsHistogram(request.limit, bins)]));
  const byTensor = new Map<string, HistogramRequest[]>();
  for (const request of requests) byTensor.set(request.tensor, [...(byTensor.get(request.tensor) ?? []), request]);
  await probe.forEachSample(calibration, (tensor, values) => {
    for (const request of byTensor.get(tensor) ?? []) histograms.get(request.key)!.add(values, request.excludedFeatures);
  });
  return histograms;
}
