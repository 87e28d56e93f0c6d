import type { VerificationResult } from './quantize-report.js';

/** CI gates on the verification: `--max-error` bounds every output's max abs error, `--min-cosine` its cosine. */
export interface QualityGates {
  maxError?: number;
  minCosine?: number;
}

/** One line per failed gate (empty when all pass). */
export function failedGates(verification: VerificationResult | undefined, gates: QualityGates): string[] {
  if (!verification) return [];
  const failures: string[] = [];
  for (const output of verification.outputs) {
    if (gates.maxError !== undefined && !(output.maxAbsError <= gates.maxError)) {
      failures.push(`output '${output.output}': max abs error ${output.maxAbsError.toPrecision(4)} > --max-error ${gates.maxError}`);
    }
    if (gates.minCosine !== undefined && !(output.cosine >= gates.minCosine)) {
      failures.push(`output '${output.output}': cosine ${output.cosine.toFixed(6)} < --min-cosine ${gates.minCosine}`);
    }
  }
  return failures;
}
