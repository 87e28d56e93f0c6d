import type { OutputError } from '../quantize/quantize-report.js';
import { numericValues, type HostArray } from '../runners/host-array.js';
import { compareOutputs, mergeOutputErrors } from '../verify/output-metrics.js';
import type { ModelComparison } from './benchmark-result.js';
import { formatDims } from './input-shapes.js';

/**
 * How far a model's outputs are from the baseline's on the same input sets, output by output. Outputs are
 * paired by name when the model has every baseline output name, else by position (a TF.js model and its ONNX
 * export name them differently). Classifier-like outputs (last axis > 1) also get top-1 agreement.
 */
export class OutputAgreement {
  private readonly perOutput = new Map<string, OutputError[]>();
  private problem: string | null = null;

  constructor(private readonly modelPath: string) {}

  add(expected: Record<string, HostArray>, actual: Record<string, HostArray>): void {
    if (this.problem) return;
    const pairs = pairOutputs(Object.keys(expected), Object.keys(actual));
    if (typeof pairs === 'string') {
      this.problem = `${this.modelPath}: ${pairs}`;
      return;
    }
    for (const [name, actualName] of pairs) {
      const before = expected[name]!;
      const after = actual[actualName]!;
      if (before.shape.join('x') !== after.shape.join('x')) {
        this.problem = `${this.modelPath}: output '${actualName}' is ${formatDims(after.shape)}, the baseline's '${name}' ${formatDims(before.shape)}`;
        return;
      }
      const classes = before.shape.length >= 2 ? before.shape.at(-1) : undefined;
      const errors = this.perOutput.get(name) ?? [];
      errors.push(compareOutputs(name, numericValues(before), numericValues(after), classes));
      this.perOutput.set(name, errors);
    }
  }

  summary(baseline: string): Omit<ModelComparison, 'speedups' | 'sizeRatio' | 'memoryRatio'> {
    const outputs = this.problem ? [] : [...this.perOutput.values()].map(mergeOutputErrors);
    const top1 = outputs.map((output) => output.top1Agreement).filter((value): value is number => value !== undefined);
    const any = outputs.length > 0;
    return {
      baseline,
      outputs,
      cosine: any ? Math.min(...outputs.map((output) => output.cosine)) : null,
      maxAbsError: any ? Math.max(...outputs.map((output) => output.maxAbsError)) : null,
      meanAbsError: any ? outputs.reduce((sum, output) => sum + output.meanAbsError, 0) / outputs.length : null,
      top1Agreement: top1.length > 0 ? Math.min(...top1) : null,
      accuracyError: this.problem ?? (any ? null : 'no outputs compared'),
    };
  }
}

/** baseline output name -> model output name, or why they cannot be paired. */
function pairOutputs(baseline: string[], model: string[]): Array<[string, string]> | string {
  const names = new Set(model);
  if (baseline.every((name) => names.has(name))) return baseline.map((name) => [name, name]);
  if (baseline.length !== model.length) return `${model.length} outputs (${model.join(', ')}), the baseline ${baseline.length} (${baseline.join(', ')}): outputs not compared`;
  return baseline.map((name, index) => [name, model[index]!]);
}
