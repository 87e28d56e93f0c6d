import { ModelpressError } from '../errors.js';
import type { CalibrationMethod } from '../quantize/quantize-options.js';
import type { AbsHistogram } from './abs-histogram.js';
import type { ActivationProbe } from './activation-probe.js';
import { collectHistograms, ObservedRange } from './activation-statistics.js';
import type { CalibrationSet } from './calibration-set.js';
import { entropyThresholdBins } from './entropy-threshold.js';

/**
 * --calibration-method, declared once: how an activation's quantization range is chosen from what the
 * calibration samples showed. Histogram methods clip |x| at a threshold t, giving [max(min, -t), min(max, t)].
 */

export interface CalibratedRange {
  min: number;
  max: number;
}

export interface CalibrationMethodOptions {
  /** Percent of |x| the 'percentile' method keeps inside the range (e.g. 99.99). */
  percentile: number;
}

interface CalibrationMethodSpec {
  summary: string;
  needsHistogram: boolean;
  /** `histogram` is present when needsHistogram is set. */
  range(observed: CalibratedRange, histogram: AbsHistogram | undefined, options: CalibrationMethodOptions): CalibratedRange;
}

/**
 * Bins of the |x| histograms. The entropy search tries every bin edge from `levels` bins up, so it needs
 * many more bins than int8 has levels (see entropy-threshold.ts).
 */
export const HISTOGRAM_BINS = 2048;

const clipTo = (observed: CalibratedRange, threshold: number): CalibratedRange => ({
  min: Math.max(observed.min, -threshold),
  max: Math.min(observed.max, threshold),
});

export const CALIBRATION_METHODS: Record<CalibrationMethod, CalibrationMethodSpec> = {
  minmax: {
    summary: 'the smallest and largest value seen',
    needsHistogram: false,
    range: (observed) => observed,
  },
  percentile: {
    summary: 'clip |x| at the given percentile of the values seen (--percentile)',
    needsHistogram: true,
    range: (observed, histogram, { percentile }) => clipTo(observed, histogram!.percentile(percentile)),
  },
  entropy: {
    summary: 'clip |x| where the KL divergence between the float and quantized histograms is least',
    needsHistogram: true,
    range(observed, histogram) {
      // A non-negative tensor uses all 255 steps of the asymmetric int8 grid on [0, t]; a signed one about
      // half of them on each side.
      const levels = observed.min >= 0 ? 255 : 128;
      return clipTo(observed, entropyThresholdBins(histogram!.counts, levels) * histogram!.binWidth);
    },
  },
};

/** What a quantized tensor's range is computed over: a tensor, less some last-axis features. */
export interface ActivationTarget {
  key: string;
  tensor: string;
  /** Mask over the last axis: 1 leaves that feature out (outliers kept in float). */
  excludedFeatures?: Uint8Array;
}

/** The observed range over the features a target keeps (exact: from the per-feature extremes). */
export function keptRange(observed: ObservedRange, excluded: Uint8Array | undefined): CalibratedRange {
  if (!excluded) return { min: observed.min, max: observed.max };
  if (!observed.featureMin || !observed.featureMax) throw new Error('internal: per-feature ranges were not collected');
  let min = Infinity;
  let max = -Infinity;
  for (let feature = 0; feature < excluded.length; feature++) {
    if (excluded[feature]) continue;
    min = Math.min(min, observed.featureMin[feature]!);
    max = Math.max(max, observed.featureMax[feature]!);
  }
  return Number.isFinite(min) ? { min, max } : { min: 0, max: 0 };
}

/**
 * Each target's range by `method`, from the first pass's `observed` ranges plus, for histogram methods, a
 * second pass over the samples.
 */
export async function calibrateRanges(
  probe: ActivationProbe,
  calibration: CalibrationSet,
  targets: ActivationTarget[],
  observed: Map<string, ObservedRange>,
  method: CalibrationMethod,
  options: CalibrationMethodOptions,
  bins = HISTOGRAM_BINS,
): Promise<Map<string, CalibratedRange>> {
  const spec = CALIBRATION_METHODS[method];
  if (!spec) throw new ModelpressError(`unknown calibration method '${method}' (available: ${Object.keys(CALIBRATION_METHODS).join(', ')})`);
  const kept = new Map(
    targets.map((target) => {
      const range = observed.get(target.tensor);
      if (!range) throw new Error(`internal: '${target.tensor}' was not observed`);
      return [target.key, keptRange(range, target.excludedFeatures)] as const;
    }),
  );
  const histograms = spec.needsHistogram
    ? await collectHistograms(
        probe,
        calibration,
        targets.map((target) => {
          const range = kept.get(target.key)!;
          return { key: target.key, tensor: target.tensor, limit: Math.max(-range.min, range.max), excludedFeatures: target.excludedFeatures };
        }),
        bins,
      )
    : undefined;
  return new Map(targets.map((target) => [target.key, spec.range(kept.get(target.key)!, histograms?.get(target.key), options)]));
}
