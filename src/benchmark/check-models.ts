import type { LocatedModel } from '../model-format.js';
import type { HostArray } from '../runners/host-array.js';
import type { ModelRunner, RunnerOptions } from '../runners/model-runner.js';
import { RUNNERS } from '../runners/runner-table.js';
import type { Logger } from '../terminal/logger.js';
import { generateInputBatches, inputSetFor, loadInputBatch, matchInputs, type InputBatch } from './benchmark-inputs.js';
import type { ModelComparison } from './benchmark-result.js';
import { OutputAgreement } from './output-agreement.js';
import type { BenchmarkRequest } from './run-benchmark.js';

/**
 * The check pass of a benchmark, before anything is timed: each model is loaded, its inputs matched to the
 * first model's, every input set run once and its outputs compared with the baseline's. Every bad input
 * (names, shapes, types, a model the runtime rejects) fails here with one line.
 */

export interface CheckedModel {
  located: LocatedModel;
  path: string;
  runtime: ModelRunner['runtime'];
  format: ModelRunner['format'];
  settings: ModelRunner['settings'];
  inputsByPosition: Record<string, string> | null;
  /** Model input name -> the fed input (first model's name). */
  sourceOf: Map<string, string>;
  agreement: Omit<ModelComparison, 'speedups' | 'sizeRatio' | 'memoryRatio'> | null;
}

async function withRunner<T>(located: LocatedModel, options: RunnerOptions, use: (runner: ModelRunner) => Promise<T>): Promise<T> {
  const runner = await RUNNERS[located.family](located.file, options);
  try {
    return await use(runner);
  } finally {
    await runner.dispose();
  }
}

export async function checkModels(request: BenchmarkRequest, located: LocatedModel[], options: RunnerOptions): Promise<{ batches: InputBatch[]; checked: CheckedModel[] }> {
  let batches: InputBatch[] = [];
  const baselineOutputs: Array<Array<Record<string, HostArray>>> = [];
  let baselineInputs: ModelRunner['inputs'] = [];
  const checked: CheckedModel[] = [];
  for (const [index, model] of located.entries()) {
    request.log.debug(`checking ${model.file}: loading it and running every input set once`);
    checked.push(
      await withRunner(model, options, async (runner) => {
        if (index === 0) {
          baselineInputs = runner.inputs;
          batches = request.dataFile
            ? [await loadInputBatch(request.dataFile, runner.inputs)]
            : generateInputBatches(runner.inputs, { shapes: request.shapes, batchSizes: request.batchSizes, sets: request.inputSets });
          reportDefaultedDimensions(batches, request.log);
        }
        const { byPosition, sourceOf } = index === 0 ? { byPosition: false, sourceOf: new Map(runner.inputs.map((input) => [input.name, input.name])) } : matchInputs(baselineInputs, runner.inputs, model.file);
        const agreement = index === 0 ? null : new OutputAgreement(model.file);
        for (const [batchIndex, batch] of batches.entries()) {
          const outputs = await runSetsOnce(runner, batch, sourceOf, model.file);
          if (index === 0) baselineOutputs.push(outputs);
          else outputs.forEach((actual, set) => agreement!.add(baselineOutputs[batchIndex]![set]!, actual));
        }
        if (byPosition) request.log.info(`${model.file}: inputs fed by position (${[...sourceOf].map(([name, source]) => `${source} -> ${name}`).join(', ')})`);
        const summary = agreement?.summary(located[0]!.file) ?? null;
        if (summary?.accuracyError) request.log.warn(summary.accuracyError);
        return {
          located: model,
          path: model.file,
          runtime: runner.runtime,
          format: runner.format,
          settings: runner.settings,
          inputsByPosition: byPosition ? Object.fromEntries(sourceOf) : null,
          sourceOf,
          agreement: summary,
        };
      }),
    );
  }
  return { batches, checked };
}

function reportDefaultedDimensions(batches: InputBatch[], log: Logger): void {
  for (const input of batches[0]?.inputs ?? []) {
    if (input.defaulted.length > 0) log.warn(`input '${input.name}': open ${input.defaulted.join(', ')} (choose with --shape ${input.name}=...)`);
  }
}

/** Every input set of `batch` through the runner once, outputs read back; inputs renamed for the model. */
async function runSetsOnce(runner: ModelRunner, batch: InputBatch, sourceOf: Map<string, string>, modelPath: string) {
  const outputs: Array<Record<string, HostArray>> = [];
  for (const set of batch.sets) {
    const prepared = await runner.prepare(inputSetFor(set, runner.inputs, sourceOf, modelPath));
    try {
      outputs.push(runner.read(await runner.run(prepared)));
    } finally {
      runner.release(prepared);
    }
  }
  return outputs;
}
