import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { BenchmarkResult } from '../src/benchmark/benchmark-result.js';
import { SeededRandom } from '../src/numeric/seeded-random.js';

/**
 * Does `modelpress benchmark` report the latency onnxruntime really has? Its p50 for PP-OCRv4 rec (a real
 * model, ~10-30 ms a run on a small VM) against a minimal hand-written onnxruntime-node loop
 * (minimal-ort-loop.ts) with the same session options and the same input, both in fresh processes, in
 * alternating rounds so that drift in the machine's state falls on both. Target: within 5%.
 *
 *   node dist/bench/benchmark-overhead.js [--json]     (also part of `npm run bench`)
 */

const RECOGNIZER = path.join('node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_rec_infer.onnx');
const INPUT_SHAPE = [1, 3, 48, 320];
const ROUNDS = 8;
const RUNS = 80;
const WARMUP = 5;
/**
 * One intra-op thread on both sides: what is compared is the measurement around the run call, and a single
 * thread is far less disturbed than a pool by other processes taking the cores of a small shared machine.
 */
const THREADS = 1;
export const OVERHEAD_TARGET = { label: 'modelpress benchmark p50 / hand-written onnxruntime loop p50', limit: 1.05 };

export interface BenchmarkOverhead {
  model: string;
  rounds: number;
  runsPerRound: number;
  modelpressP50Ms: number[];
  handWrittenP50Ms: number[];
  /** modelpress p50 / loop p50 within each round (the two ran back to back). */
  roundRatios: number[];
  /**
   * Median of the per-round ratios: on a shared machine the load drifts between rounds, and a ratio of two
   * runs made seconds apart cancels most of that drift, which a ratio of overall medians would not.
   */
  ratio: number;
  target: { label: string; value: number; limit: number; atLeast: false; pass: boolean };
}

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', '..', 'bin', 'modelpress');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function modelpressP50(inputs: string): Promise<number> {
  const { stdout } = await run(process.execPath, [cli, '--json', '--quiet', 'benchmark', RECOGNIZER, '--data', inputs, '--warmup', String(WARMUP), '--runs', String(RUNS), '--threads', String(THREADS)], { maxBuffer: 16 << 20 });
  const result = JSON.parse(stdout) as BenchmarkResult;
  return result.models[0]!.measurements[0]!.latencyMs.p50;
}

async function handWrittenP50(inputs: string): Promise<number> {
  const { stdout } = await run(process.execPath, [path.join(here, 'minimal-ort-loop.js'), RECOGNIZER, inputs, String(WARMUP), String(RUNS), String(THREADS)]);
  return (JSON.parse(stdout) as { p50Ms: number }).p50Ms;
}

export async function runBenchmarkOverhead(progress: (message: string) => void): Promise<BenchmarkOverhead> {
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-overhead-'));
  try {
    // One input for both, float32-exact so the JSON round trip changes nothing.
    const random = new SeededRandom(7);
    const count = INPUT_SHAPE.reduce((product, size) => product * size, 1);
    const inputs = path.join(folder, 'inputs.json');
    await fs.writeFile(inputs, JSON.stringify({ x: { dtype: 'float32', shape: INPUT_SHAPE, data: Array.from({ length: count }, () => Math.fround(random.normal(1))) } }));
    const modelpress: number[] = [];
    const handWritten: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so neither always follows the other.
      const order = round % 2 === 0 ? ['modelpress', 'hand'] : ['hand', 'modelpress'];
      for (const side of order) {
        if (side === 'modelpress') modelpress.push(await modelpressP50(inputs));
        else handWritten.push(await handWrittenP50(inputs));
      }
      progress(`benchmark overhead round ${round + 1}/${ROUNDS}: modelpress p50 ${modelpress.at(-1)!.toFixed(2)} ms, hand-written loop ${handWritten.at(-1)!.toFixed(2)} ms`);
    }
    const roundRatios = modelpress.map((p50, round) => p50 / handWritten[round]!);
    const ratio = median(roundRatios);
    return {
      model: RECOGNIZER,
      rounds: ROUNDS,
      runsPerRound: RUNS,
      modelpressP50Ms: modelpress,
      handWrittenP50Ms: handWritten,
      roundRatios,
      ratio,
      target: { ...OVERHEAD_TARGET, value: ratio, atLeast: false, pass: ratio <= OVERHEAD_TARGET.limit },
    };
  } finally {
    await fs.rm(folder, { recursive: true, force: true });
  }
}

export function renderBenchmarkOverhead(overhead: BenchmarkOverhead): string {
  const list = (values: number[]) => values.map((value) => value.toFixed(2)).join(' ');
  return [
    `benchmark overhead: ${overhead.model}, input [${INPUT_SHAPE.join(', ')}], ${overhead.rounds} alternating rounds of ${WARMUP} warm-up + ${overhead.runsPerRound} runs, each in a fresh process, ${THREADS} intra-op thread`,
    `  modelpress benchmark p50 (ms): ${list(overhead.modelpressP50Ms)}  median ${median(overhead.modelpressP50Ms).toFixed(2)}`,
    `  hand-written loop p50 (ms):    ${list(overhead.handWrittenP50Ms)}  median ${median(overhead.handWrittenP50Ms).toFixed(2)}`,
    `  ratio per round:               ${overhead.roundRatios.map((value) => value.toFixed(3)).join(' ')}; ratio of the medians ${(median(overhead.modelpressP50Ms) / median(overhead.handWrittenP50Ms)).toFixed(3)}`,
    `${overhead.target.label} (median of the round ratios): ${overhead.ratio.toFixed(3)} (target <= ${overhead.target.limit}) ${overhead.target.pass ? 'PASS' : 'FAIL'}`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const json = process.argv.includes('--json');
  const overhead = await runBenchmarkOverhead((message) => process.stderr.write(`${message}\n`));
  console.log(json ? JSON.stringify(overhead, null, 2) : renderBenchmarkOverhead(overhead));
  process.exitCode = overhead.target.pass ? 0 : 1;
}
