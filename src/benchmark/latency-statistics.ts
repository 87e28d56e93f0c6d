/**
 * Summary statistics of latency samples. Percentiles interpolate linearly between the two nearest ranks
 * (Hyndman-Fan type 7, numpy's default): on the samples sorted ascending, percentile p sits at position
 * h = (n - 1) * p / 100, and its value is sorted[floor(h)] + (h - floor(h)) * (sorted[floor(h) + 1] - sorted[floor(h)]).
 * So p50 is the median, p0 the minimum and p100 the maximum. onnxruntime_perf_test reports sorted[floor(n * q)]
 * without interpolation instead; the two agree as n grows.
 */

export interface LatencyStatistics {
  /** Number of samples. */
  count: number;
  mean: number;
  /** Sample standard deviation (divides by n - 1; 0 for a single sample). */
  std: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

/** The percentiles every result reports, by the field that holds each. */
export const REPORTED_PERCENTILES = { p50: 50, p90: 90, p95: 95, p99: 99 } as const;

export function percentileOfSorted(sorted: ArrayLike<number>, percent: number): number {
  if (sorted.length === 0) throw new Error('percentile of no samples');
  if (!(percent >= 0 && percent <= 100)) throw new Error(`percentile ${percent} is outside [0, 100]`);
  const position = ((sorted.length - 1) * percent) / 100;
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (position - lower) * (sorted[upper]! - sorted[lower]!);
}

export function latencyStatistics(samples: ArrayLike<number>): LatencyStatistics {
  const count = samples.length;
  if (count === 0) throw new Error('statistics of no samples');
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const mean = sum / count;
  let squares = 0;
  for (const value of sorted) squares += (value - mean) ** 2;
  return {
    count,
    mean,
    std: count > 1 ? Math.sqrt(squares / (count - 1)) : 0,
    min: sorted[0]!,
    max: sorted[count - 1]!,
    p50: percentileOfSorted(sorted, REPORTED_PERCENTILES.p50),
    p90: percentileOfSorted(sorted, REPORTED_PERCENTILES.p90),
    p95: percentileOfSorted(sorted, REPORTED_PERCENTILES.p95),
    p99: percentileOfSorted(sorted, REPORTED_PERCENTILES.p99),
  };
}
