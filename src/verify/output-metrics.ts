import type { OutputError } from '../quantize/quantize-report.js';

/**
 * How far a rewritten model's output is from the original's on the same inputs: cosine similarity over the
 * flattened tensor, max and mean absolute error, and (for outputs with a class axis last) the share of
 * positions whose argmax agrees.
 */
export function compareOutputs(name: string, expected: ArrayLike<number>, actual: ArrayLike<number>, classes?: number): OutputError {
  if (expected.length !== actual.length) {
    throw new Error(`output '${name}' has ${actual.length} values after the rewrite, ${expected.length} before`);
  }
  let dot = 0;
  let expectedNorm = 0;
  let actualNorm = 0;
  let maxAbsError = 0;
  let absErrorSum = 0;
  for (let index = 0; index < expected.length; index++) {
    const a = Number(expected[index]);
    const b = Number(actual[index]);
    dot += a * b;
    expectedNorm += a * a;
    actualNorm += b * b;
    const error = Number.isNaN(a - b) ? Infinity : Math.abs(a - b);
    if (error > maxAbsError) maxAbsError = error;
    absErrorSum += error;
  }
  // Two all-zero outputs agree perfectly; one zero and one not share no direction. One square root of the
  // product, not a product of two roots: for identical outputs that is exactly the dot product, so cosine is 1.
  const cosine = expectedNorm === 0 && actualNorm === 0 ? 1 : dot / (Math.sqrt(expectedNorm * actualNorm) || Infinity);
  const result: OutputError = { output: name, cosine, maxAbsError, meanAbsError: expected.length ? absErrorSum / expected.length : 0 };
  if (classes !== undefined && classes > 1 && expected.length % classes === 0) {
    result.top1Agreement = top1Agreement(expected, actual, classes);
  }
  return result;
}

export function argmaxRows(values: ArrayLike<number>, classes: number): Int32Array {
  const rows = values.length / classes;
  const result = new Int32Array(rows);
  for (let row = 0; row < rows; row++) {
    let best = 0;
    for (let column = 1; column < classes; column++) {
      if (Number(values[row * classes + column]) > Number(values[row * classes + best])) best = column;
    }
    result[row] = best;
  }
  return result;
}

export function top1Agreement(expected: ArrayLike<number>, actual: ArrayLike<number>, classes: number): number {
  const a = argmaxRows(expected, classes);
  const b = argmaxRows(actual, classes);
  let same = 0;
  for (let row = 0; row < a.length; row++) if (a[row] === b[row]) same++;
  return a.length ? same / a.length : 1;
}

/** Merge per-sample errors of one output: worst cosine and max error, mean of means and agreements. */
export function mergeOutputErrors(errors: OutputError[]): OutputError {
  const first = errors[0]!;
  const merged: OutputError = {
    output: first.output,
    cosine: Math.min(...errors.map((error) => error.cosine)),
    maxAbsError: Math.max(...errors.map((error) => error.maxAbsError)),
    meanAbsError: errors.reduce((sum, error) => sum + error.meanAbsError, 0) / errors.length,
  };
  if (errors.every((error) => error.top1Agreement !== undefined)) {
    merged.top1Agreement = errors.reduce((sum, error) => sum + error.top1Agreement!, 0) / errors.length;
  }
  return merged;
}
