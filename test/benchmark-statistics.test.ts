import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latencyStatistics, percentileOfSorted } from '../src/benchmark/latency-statistics.js';

const close = (actual: number, expected: number, message?: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${message ?? ''} ${actual} != ${expected}`);

describe('latency statistics against hand-computed samples', () => {
  it('1..10 given out of order: mean 5.5, sample std sqrt(82.5 / 9), interpolated percentiles', () => {
    const stats = latencyStatistics([7, 3, 10, 1, 5, 9, 2, 8, 6, 4]);
    assert.equal(stats.count, 10);
    close(stats.mean, 5.5);
    close(stats.std, Math.sqrt(82.5 / 9));
    assert.equal(stats.min, 1);
    assert.equal(stats.max, 10);
    // position (n - 1) * p / 100 on the sorted samples: 4.5, 8.1, 8.55, 8.91
    close(stats.p50, 5.5);
    close(stats.p90, 9.1);
    close(stats.p95, 9.55);
    close(stats.p99, 9.91);
  });

  it('[3, 1, 4, 1, 5]: median of an odd count is the middle sample; std from squared deviations 12.8 / 4', () => {
    const stats = latencyStatistics([3, 1, 4, 1, 5]);
    close(stats.mean, 2.8);
    close(stats.std, Math.sqrt(12.8 / 4));
    assert.equal(stats.p50, 3);
    close(stats.p90, 4.6); // position 3.6 between 4 and 5
    close(stats.p99, 4.96); // position 3.96
  });

  it('two samples: p90 lies 90% of the way from the lower to the upper', () => {
    const stats = latencyStatistics([20, 10]);
    close(stats.p90, 19);
    close(stats.p50, 15);
    close(stats.std, Math.sqrt(50));
  });

  it('one sample: every percentile is that sample and the deviation is 0', () => {
    const stats = latencyStatistics([0.25]);
    assert.deepEqual([stats.min, stats.max, stats.p50, stats.p90, stats.p99, stats.std], [0.25, 0.25, 0.25, 0.25, 0.25, 0]);
  });

  it('percentile 0 and 100 are the minimum and maximum; out-of-range percentiles and empty samples throw', () => {
    const sorted = [1, 2, 4, 8];
    assert.equal(percentileOfSorted(sorted, 0), 1);
    assert.equal(percentileOfSorted(sorted, 100), 8);
    close(percentileOfSorted(sorted, 50), 3);
    assert.throws(() => percentileOfSorted(sorted, 101));
    assert.throws(() => latencyStatistics([]));
  });
});
