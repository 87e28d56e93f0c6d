/**
 * The entropy (KL-divergence) calibration of TensorRT's int8 paper (Migacz, "8-bit Inference with
 * TensorRT", 2017): among clipping thresholds at bin edges, pick the one whose quantized distribution loses
 * the least information about the observed one.
 *
 * For a candidate that keeps the first i bins of the |x| histogram:
 * - P is those i bins, with everything beyond them added to the last kept bin (clipped values saturate);
 * - Q squeezes the same i bins (without the clipped mass) into `levels` quantization bins and spreads each
 *   level's count evenly over its originally non-empty bins;
 * - the cost is KL(P || Q) on the normalised distributions.
 * Clipping too early puts a heavy last bin in P that Q cannot explain; clipping too late merges many
 * bins per level and blurs the bulk. The search needs many more bins than levels: with ORT's default of
 * 128 bins and 128 levels there is one candidate, the full range, and entropy equals min/max
 * (onnxruntime calibrate.py get_entropy_threshold). Use >= 2048 bins.
 */
export function entropyThresholdBins(counts: Float64Array, levels: number): number {
  const bins = counts.length;
  if (bins <= levels) return bins;
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return bins;
  // Prefix sums make each candidate cost O(levels): within a level Q is one value over the non-empty bins,
  // so sum P*log(P/Q) = sum P*log(P) - (level mass / total) * log(Q).
  const plogp = (count: number) => (count > 0 ? (count / total) * Math.log(count / total) : 0);
  const prefix = new Float64Array(bins + 1);
  const nonEmptyPrefix = new Int32Array(bins + 1);
  const plogpPrefix = new Float64Array(bins + 1);
  for (let bin = 0; bin < bins; bin++) {
    prefix[bin + 1] = prefix[bin]! + counts[bin]!;
    nonEmptyPrefix[bin + 1] = nonEmptyPrefix[bin]! + (counts[bin]! > 0 ? 1 : 0);
    plogpPrefix[bin + 1] = plogpPrefix[bin]! + plogp(counts[bin]!);
  }

  let best = bins;
  let bestDivergence = Infinity;
  for (let kept = levels; kept <= bins; kept++) {
    const qTotal = prefix[kept]!;
    if (qTotal === 0) continue;
    const clipped = total - qTotal;
    let divergence = 0;
    let lastLevelQ = 0;
    for (let level = 0; level < levels; level++) {
      const start = Math.floor((level * kept) / levels);
      const end = Math.floor(((level + 1) * kept) / levels);
      const mass = prefix[end]! - prefix[start]!;
      if (mass === 0) continue;
      const q = mass / (nonEmptyPrefix[end]! - nonEmptyPrefix[start]!) / qTotal;
      divergence += plogpPrefix[end]! - plogpPrefix[start]! - (mass / total) * Math.log(q);
      if (end === kept) lastLevelQ = q;
    }
    if (clipped > 0) {
      // The last kept bin also holds the clipped values: swap its term for the saturated one.
      const last = counts[kept - 1]!;
      const p = (last + clipped) / total;
      if (last > 0) divergence += p * Math.log(p / lastLevelQ) - (plogp(last) - (last / total) * Math.log(lastLevelQ));
      // A bin only clipped values reach has no Q mass: it costs as if Q were tiny there.
      else divergence += p * Math.log(p / 1e-12);
    }
    if (divergence < bestDivergence) {
      bestDivergence = divergence;
      best = kept;
    }
  }
  return best;
}
