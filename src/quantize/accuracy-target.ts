import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelpressError } from '../errors.js';
import { createLogger } from '../terminal/logger.js';
import type { QuantizeReport } from './quantize-report.js';
import type { QuantizeRequest } from './quantize-request.js';

/**
 * Accuracy-driven mixed precision (--target-cosine), the search Intel Neural Compressor calls accuracy-aware
 * tuning: when the quantized model's output cosine on the verification inputs is below the target, measure
 * each quantized weight's damage on its own (a trial run quantizing only that weight) and keep the most
 * damaging ones in float, as few as reach the target. A few small layers usually carry most of the error
 * (PP-OCRv4 rec: one 144-element depthwise conv drops the cosine to 0.991), so the size cost is tiny.
 * Every trial is a full quantize + verify run into a scratch folder; the output is written once, at the end.
 */
export interface AccuracyTargetResult {
  targetCosine: number;
  /** The lowest output cosine with every eligible weight quantized. */
  cosineAllQuantized: number;
  /** The lowest output cosine of the written model. */
  cosine: number;
  /** Quantize + verify runs made by the search, the final one included. */
  runs: number;
  /** Weights kept float, most damaging first, with the cosine each gave when quantized alone. */
  keptFloat: Array<{ weight: string; elements: number; cosineAlone: number }>;
}

export type QuantizePipeline = (request: QuantizeRequest) => Promise<QuantizeReport>;

const silent = createLogger({ stream: { write: () => true }, quiet: true });

function lowestCosine(report: QuantizeReport): number {
  const cosines = report.verification?.outputs.map((output) => output.cosine) ?? [];
  return cosines.length ? Math.min(...cosines) : NaN;
}

export async function quantizeToTargetCosine(request: QuantizeRequest, targetCosine: number, pipeline: QuantizePipeline): Promise<QuantizeReport> {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-target-'));
  let runs = 0;
  const trial = async (selection = request.options.selection): Promise<QuantizeReport> => {
    runs++;
    const output = path.join(scratch, `run-${runs}`, path.basename(request.output));
    await fs.mkdir(path.dirname(output));
    try {
      return await pipeline({ ...request, output, force: true, gates: {}, log: silent, progress: undefined, options: { ...request.options, selection } });
    } finally {
      await fs.rm(path.dirname(output), { recursive: true, force: true });
    }
  };
  try {
    const full = await trial();
    const cosineAllQuantized = lowestCosine(full);
    let keptFloat: AccuracyTargetResult['keptFloat'] = [];
    if (!(cosineAllQuantized >= targetCosine)) {
      const candidates = full.tensors.decisions.filter((decision) => decision.action === 'quantized');
      request.log.info(`cosine ${cosineAllQuantized.toFixed(6)} < --target-cosine ${targetCosine}: measuring each of ${candidates.length} weights alone`);
      const bar = request.progress?.('measuring weight sensitivity', candidates.length);
      const alone: AccuracyTargetResult['keptFloat'] = [];
      for (const [index, candidate] of candidates.entries()) {
        const report = await trial(request.options.selection.onlyWeights(new Set([candidate.weight])));
        alone.push({ weight: candidate.weight, elements: candidate.elements, cosineAlone: lowestCosine(report) });
        bar?.update(index + 1);
      }
      bar?.stop();
      alone.sort((a, b) => a.cosineAlone - b.cosineAlone);
      keptFloat = await fewestToKeepFloat(alone, targetCosine, async (count) => lowestCosine(await trial(selectionKeeping(request, alone.slice(0, count), targetCosine))));
      request.log.info(`keeping ${keptFloat.length} of ${candidates.length} weights float reaches the target`);
    }
    const report = await pipeline({ ...request, options: { ...request.options, selection: selectionKeeping(request, keptFloat, targetCosine) } });
    runs++;
    report.accuracyTarget = { targetCosine, cosineAllQuantized, cosine: lowestCosine(report), runs, keptFloat };
    return report;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

function selectionKeeping(request: QuantizeRequest, kept: AccuracyTargetResult['keptFloat'], targetCosine: number) {
  const reasons = new Map(kept.map((weight) => [weight.weight, `kept float for --target-cosine ${targetCosine}`]));
  return request.options.selection.keepingFloat(reasons);
}

/**
 * The shortest prefix of the most-damaging-first list whose float keeping reaches the target: doubling, then
 * bisection (the cosine grows with the prefix in practice, not by law, so the prefix found is re-checked).
 * At least one weight must stay quantized; if even that misses the target, the target is out of reach.
 */
async function fewestToKeepFloat<T>(ranked: T[], targetCosine: number, cosineKeeping: (count: number) => Promise<number>): Promise<T[]> {
  const reaches = async (count: number) => (await cosineKeeping(count)) >= targetCosine;
  const limit = ranked.length - 1;
  let passing = -1;
  let failing = 0;
  for (let count = 1; count <= limit; count = Math.min(count * 2, limit)) {
    if (await reaches(count)) {
      passing = count;
      break;
    }
    failing = count;
    if (count === limit) break;
  }
  if (passing < 0) {
    throw new ModelpressError(
      `--target-cosine ${targetCosine} is out of reach: even with ${limit} of ${ranked.length} quantized weights kept float the cosine stays below it; no output written`,
    );
  }
  while (passing - failing > 1) {
    const middle = Math.floor((passing + failing) / 2);
    if (await reaches(middle)) passing = middle;
    else failing = middle;
  }
  return ranked.slice(0, passing);
}
