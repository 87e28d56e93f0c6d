/**
 * A histogram of |x| over [0, limit] with equal-width bins, filled sample by sample (values at or past
 * `limit` land in the last bin). The limit comes from a first min/max pass, so bins never need re-binning.
 */
export class AbsHistogram {
  readonly counts: Float64Array;

  constructor(
    readonly limit: number,
    bins: number,
  ) {
    this.counts = new Float64Array(bins);
  }

  get bins(): number {
    return this.counts.length;
  }

  get binWidth(): number {
    return this.limit / this.bins;
  }

  /**
   * Count `values`; with `excluded` (a mask over the last axis of length excluded.length), elements whose
   * last-axis index is masked are left out.
   */
  add(values: Float32Array, excluded?: Uint8Array): void {
    const last = this.bins - 1;
    const perBin = this.limit > 0 ? this.bins / this.limit : 0;
    const features = excluded?.length ?? 0;
    for (let index = 0; index < values.length; index++) {
      if (excluded && excluded[index % features]) continue;
      const bin = Math.floor(Math.abs(values[index]!) * perBin);
      this.counts[bin > last ? last : bin]!++;
    }
  }

  total(): number {
    return this.counts.reduce((sum, count) => sum + count, 0);
  }

  /** The smallest bin edge below which at least `percent`% of the counted |x| lie. */
  percentile(percent: number): number {
    const total = this.total();
    if (total === 0) return 0;
    const wanted = (percent / 100) * total;
    let cumulative = 0;
    for (let bin = 0; bin < this.bins; bin++) {
      cumulative += this.counts[bin]!;
      if (cumulative >= wanted) return Math.min(this.limit, (bin + 1) * this.binWidth);
    }
    return this.limit;
  }
}
