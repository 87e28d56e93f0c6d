import { execFile } from 'node:child_process';
import { createReadStream, rmSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isModelpressError, UsageError } from '../src/errors.js';
import { DEFAULT_LARGE_MODEL, generateLargeModel, GeneratedModel, LargeModelOptions } from './generate-large-model.js';
import { MeasurementResult, OperationName, STREAM_COPY_CHUNK_BYTES } from './measure-child.js';
import { verifySavedModel } from './verify-saved-model.js';
import { renderQuantizedModelBenchmarks, runQuantizedModelBenchmarks } from './quantized-models-benchmark.js';
import { renderBenchmarkOverhead, runBenchmarkOverhead } from './benchmark-overhead.js';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';

/**
 * `npm run bench`: how close saving a large external-data ONNX model comes to copying its files, and how
 * much memory the save needs; then quantized models' latency and accuracy, and whether `modelpress benchmark`
 * reports the latency a hand-written onnxruntime loop sees (benchmark-overhead.ts, also runnable alone). Generates a >= 1 GiB model once, then runs each measurement in its own
 * process, interleaving the copies and the save so that drift in the machine's state spreads over all.
 *
 *   node dist/bench/run-benchmarks.js [--json] [--runs N] [--layers N]
 */

/** The targets, declared once: what is measured, against what, and which way is good. */
const TARGETS = {
  throughput: { label: 'load+save / copy throughput', limit: 0.5, atLeast: true },
  peakRss: { label: 'peak RSS / model size', limit: 0.25, atLeast: false },
  int8Throughput: { label: 'quantize int8 / copy throughput', limit: 0.3, atLeast: true },
  int4Throughput: { label: 'quantize int4 / copy throughput', limit: 0.3, atLeast: true },
  quantizePeakRss: { label: 'quantize peak RSS / model size (worse of int8, int4)', limit: 0.25, atLeast: false },
} as const;

type TargetName = keyof typeof TARGETS;

/** The throughput target compares SAVE with COPY_BASELINE; KERNEL_COPY is shown for reference. */
const COPY_BASELINE: OperationName = 'stream-copy';
const SAVE: OperationName = 'load-save';
const KERNEL_COPY: OperationName = 'copy-file';
/** The operations of one round. Each round rotates this order by one (see roundOrder). */
const ROUND: OperationName[] = ['stream-copy', 'load-save', 'copy-file', 'quantize-int8', 'quantize-int4'];
/** Operations that write a rewritten model: their output is checked by loading it, not by size. */
const REWRITES: OperationName[] = ['quantize-int8', 'quantize-int4'];

const DESCRIPTIONS: Record<OperationName, string> = {
  'stream-copy': `copy, read/write stream (${STREAM_COPY_CHUNK_BYTES / 1024} KiB buffers)`,
  'copy-file': 'copy, fs.copyFile (kernel copy)',
  'load-save': 'loadOnnxModel + saveOnnxModel',
  'quantize-int8': 'quantize --scheme int8 --no-verify (RTN, per-channel)',
  'quantize-int4': 'quantize --scheme int4 --no-verify (RTN, block 32, MatMulNBits)',
};

/** Model plus a copy of it plus the save's temporaries, with room to spare. */
const REQUIRED_FREE_BYTES = 4e9;
const MB = 1e6;
/** Other processes' CPU use (in CPUs) past which the figures are flagged as disturbed. */
const BUSY_MACHINE_CPUS = 0.25;

interface Options {
  json: boolean;
  runs: number;
  model: LargeModelOptions;
}

interface OperationSummary {
  operation: OperationName;
  description: string;
  seconds: number[];
  medianSeconds: number;
  /** Model bytes (.onnx + .data) per second, at the median time. */
  bytesPerSecond: number;
  /** Highest peak RSS over the runs, in bytes. */
  peakRssBytes: number;
  /** RSS before the operation began (Node and loaded modules), in bytes. */
  startRssBytes: number;
  /** Highest CPU use by other processes during a run, in CPUs. */
  otherCpus: number;
}

interface TargetResult {
  label: string;
  value: number;
  limit: number;
  atLeast: boolean;
  pass: boolean;
}

function parseArguments(argv: string[]): Options {
  // Five timed runs, not three: on the small VMs this runs on, kernel time for writing a gigabyte into the
  // page cache varied 4x from one run to the next, and medians of three moved the ratio from 0.6 to 2.
  // Five is the round's length, so every operation runs once in every position.
  const options: Options = { json: false, runs: ROUND.length, model: { ...DEFAULT_LARGE_MODEL } };
  const positiveInteger = (flag: string, value: string | undefined): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 1) throw new UsageError(`${flag} needs a positive integer, got '${value ?? ''}'`);
    return parsed;
  };
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]!;
    if (flag === '--json') options.json = true;
    else if (flag === '--runs') options.runs = positiveInteger(flag, argv[++index]);
    else if (flag === '--layers') options.model.layers = positiveInteger(flag, argv[++index]);
    else throw new UsageError(`unknown option '${flag}' (options: --json, --runs N, --layers N)`);
  }
  return options;
}

async function checkFreeSpace(directory: string): Promise<void> {
  const stats = await fs.statfs(directory).catch((error: Error) => {
    throw new Error(`cannot check free space in the temp folder ${directory} (os.tmpdir(), set by TMPDIR): ${error.message}`);
  });
  const free = stats.bavail * stats.bsize;
  if (free < REQUIRED_FREE_BYTES) {
    throw new Error(
      `the benchmark needs ${(REQUIRED_FREE_BYTES / 1e9).toFixed(0)} GB free in ${directory} (a 1 GiB model, a saved copy and temporaries), ` +
        `only ${(free / 1e9).toFixed(2)} GB is free: free some space or point TMPDIR at a larger disk`,
    );
  }
}

/** Read the files once, untimed, so every measurement starts with the source in the page cache. */
async function warmPageCache(files: string[]): Promise<void> {
  for (const file of files) {
    for await (const _chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
      // reading is the point
    }
  }
}

const childScript = fileURLToPath(new URL('./measure-child.js', import.meta.url));

async function runMeasurement(operation: OperationName, modelPath: string, outputDirectory: string): Promise<MeasurementResult> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [childScript, operation, modelPath, outputDirectory], {
      maxBuffer: 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split('\n').pop()!) as MeasurementResult;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`measurement '${operation}' failed${stderr ? `:\n${stderr}` : `: ${(error as Error).message}`}`);
  }
}

/**
 * Round `run`'s order: ROUND rotated by `run`, so that no operation always runs first after a warm-up, or
 * always right after the save's verification pause; any effect one measurement leaves on the next is spread.
 */
function roundOrder(run: number): OperationName[] {
  const shift = run % ROUND.length;
  return [...ROUND.slice(shift), ...ROUND.slice(0, shift)];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function summarize(operation: OperationName, results: MeasurementResult[], modelBytes: number): OperationSummary {
  const seconds = results.map((result) => result.seconds);
  const medianSeconds = median(seconds);
  return {
    operation,
    description: DESCRIPTIONS[operation],
    seconds,
    medianSeconds,
    bytesPerSecond: modelBytes / medianSeconds,
    peakRssBytes: Math.max(...results.map((result) => result.peakRssKiB)) * 1024,
    startRssBytes: Math.max(...results.map((result) => result.startRssKiB)) * 1024,
    otherCpus: Math.max(...results.map((result) => result.otherCpus)),
  };
}

function judge(name: TargetName, value: number): TargetResult {
  const { label, limit, atLeast } = TARGETS[name];
  return { label, value, limit, atLeast, pass: atLeast ? value >= limit : value <= limit };
}

function targetLine(target: TargetResult): string {
  return `${target.label}: ${target.value.toFixed(2)} (target ${target.atLeast ? '>=' : '<='} ${target.limit}) ${target.pass ? 'PASS' : 'FAIL'}`;
}

function renderTable(
  model: GeneratedModel,
  options: Options,
  summaries: OperationSummary[],
  targets: TargetResult[],
  referenceRatio: number,
): string {
  const modelBytes = model.modelBytes + model.dataBytes;
  const { layers, width } = options.model;
  const busiest = Math.max(...summaries.map((summary) => summary.otherCpus));
  const rows = [
    ['measurement', 'median time', 'throughput', 'peak RSS', 'RSS at start', 'other CPU', 'runs (s)'],
    ...summaries.map((summary) => [
      summary.description,
      `${summary.medianSeconds.toFixed(3)} s`,
      `${(summary.bytesPerSecond / MB).toFixed(0)} MB/s`,
      `${(summary.peakRssBytes / MB).toFixed(1)} MB`,
      `${(summary.startRssBytes / MB).toFixed(1)} MB`,
      summary.otherCpus.toFixed(2),
      summary.seconds.map((seconds) => seconds.toFixed(3)).join(' '),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
  lines.splice(1, 0, widths.map((columnWidth) => '-'.repeat(columnWidth)).join('  '));
  return [
    `model: ${layers} MatMul layers, float32 [${width},${width}] weights in external data: ` +
      `${(modelBytes / MB).toFixed(1)} MB (.onnx ${model.modelBytes} bytes + .data ${model.dataBytes} bytes)`,
    `each measurement runs in its own process; an untimed warm-up round, then ${options.runs} rounds in rotating order; ` +
      'time and throughput are medians, peak RSS the highest run',
    `source files are in the page cache (read once untimed); MB = 10^6 bytes; RSS is process.resourceUsage().maxRSS`,
    ...(modelBytes < 1e9 ? ['note: model is under 1 GB (--layers), the targets are meant for the default 1 GiB model'] : []),
    ...(busiest > BUSY_MACHINE_CPUS
      ? [
          `warning: other processes kept up to ${busiest.toFixed(2)} of ${os.availableParallelism()} CPUs busy during a run ` +
            '(column "other CPU"): the times are disturbed, rerun on an idle machine',
        ]
      : []),
    '',
    ...lines,
    '',
    `throughput ratio = load+save MB/s / ${DESCRIPTIONS[COPY_BASELINE]} MB/s, the copy \`cat\` does and \`cp\` falls back to;`,
    '  fs.copyFile (copy_file_range, what `cp` does when it can) is for reference only: the kernel copies without the bytes',
    '  entering the process, which no save that reads its tensors can do',
    'peak RSS ratio = load+save peak RSS (whole process, Node included) / model bytes (.onnx + .data)',
    'quantize throughput = input model bytes / quantize time, over the same copy MB/s (output is smaller: int8 ~1/4, int4 ~1/7)',
    `reference, no target: load+save / fs.copyFile throughput: ${referenceRatio.toFixed(2)}`,
    ...targets.map(targetLine),
  ].join('\n');
}

async function main(): Promise<number> {
  const options = parseArguments(process.argv.slice(2));
  const progress = (message: string) => process.stderr.write(`${message}\n`);
  await checkFreeSpace(os.tmpdir());
  const workDirectory = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-bench-'));
  // Interrupted runs must not leave a gigabyte behind in the temp folder.
  const removeWork = () => rmSync(workDirectory, { recursive: true, force: true });
  const onSignal = () => {
    removeWork();
    process.exit(130);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    progress(`generating model in ${workDirectory} ...`);
    const generateStart = performance.now();
    const model = await generateLargeModel(path.join(workDirectory, 'source'), options.model);
    const modelBytes = model.modelBytes + model.dataBytes;
    progress(
      `generated ${(modelBytes / MB).toFixed(1)} MB in ${((performance.now() - generateStart) / 1000).toFixed(1)} s ` +
        `(this process's peak RSS so far ${((process.resourceUsage().maxRSS * 1024) / MB).toFixed(1)} MB); warming page cache ...`,
    );
    await warmPageCache([model.modelPath, model.dataPath]);

    const results = new Map<OperationName, MeasurementResult[]>(ROUND.map((operation) => [operation, []]));
    // Round 0 is a warm-up whose times are dropped: on the VMs this was written on, the first gigabyte
    // written after generating the model took 2-4x longer than later ones, whatever wrote it, and that
    // must not land on whichever operation happens to run first.
    for (let run = 0; run <= options.runs; run++) {
      for (const operation of roundOrder(run)) {
        const outputDirectory = path.join(workDirectory, `${operation}-${run}`);
        const result = await runMeasurement(operation, model.modelPath, outputDirectory);
        // A copy must reproduce the files exactly; a save may lay its files out differently, so its tensors are checked.
        if (operation === SAVE) {
          await verifySavedModel(path.join(outputDirectory, path.basename(model.modelPath)), model.tensors);
        } else if (REWRITES.includes(operation)) {
          await loadOnnxModel(path.join(outputDirectory, path.basename(model.modelPath)));
        } else if (result.bytesWritten !== modelBytes) {
          throw new Error(`measurement '${operation}' wrote ${result.bytesWritten} bytes, the model is ${modelBytes}`);
        }
        // Removing the output at once drops its dirty pages, so writeback of one run never slows the next.
        await fs.rm(outputDirectory, { recursive: true, force: true });
        if (run > 0) results.get(operation)!.push(result);
        const label = run === 0 ? 'warm-up' : `run ${run}/${options.runs}`;
        progress(`${label} ${operation}: ${result.seconds.toFixed(3)} s, peak RSS ${((result.peakRssKiB * 1024) / MB).toFixed(1)} MB`);
      }
    }

    const summaries = ROUND.map((operation) => summarize(operation, results.get(operation)!, modelBytes));
    const byOperation = new Map(summaries.map((summary) => [summary.operation, summary]));
    const save = byOperation.get(SAVE)!;
    const targets = {
      throughput: judge('throughput', save.bytesPerSecond / byOperation.get(COPY_BASELINE)!.bytesPerSecond),
      peakRss: judge('peakRss', save.peakRssBytes / modelBytes),
      int8Throughput: judge('int8Throughput', byOperation.get('quantize-int8')!.bytesPerSecond / byOperation.get(COPY_BASELINE)!.bytesPerSecond),
      int4Throughput: judge('int4Throughput', byOperation.get('quantize-int4')!.bytesPerSecond / byOperation.get(COPY_BASELINE)!.bytesPerSecond),
      quantizePeakRss: judge(
        'quantizePeakRss',
        Math.max(byOperation.get('quantize-int8')!.peakRssBytes, byOperation.get('quantize-int4')!.peakRssBytes) / modelBytes,
      ),
    };
    const saveVersusCopyFile = save.bytesPerSecond / byOperation.get(KERNEL_COPY)!.bytesPerSecond;
    progress('quantized models: latency and accuracy ...');
    const quantized = await runQuantizedModelBenchmarks(path.join(workDirectory, 'quantized-models'), progress);
    progress('modelpress benchmark against a hand-written onnxruntime loop ...');
    const benchmarkOverhead = await runBenchmarkOverhead(progress);
    const pass =
      Object.values(targets).every((target) => target.pass) && quantized.targets.every((target) => target.pass) && benchmarkOverhead.target.pass;
    if (options.json) {
      const report = {
        model: { layers: options.model.layers, width: options.model.width, modelBytes: model.modelBytes, dataBytes: model.dataBytes, totalBytes: modelBytes },
        runs: options.runs,
        throughputDenominator: COPY_BASELINE,
        measurements: Object.fromEntries(summaries.map((summary) => [summary.operation, summary])),
        targets,
        reference: { saveVersusCopyFile },
        quantizedModels: quantized,
        benchmarkOverhead,
        pass,
      };
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(renderTable(model, options, summaries, Object.values(targets), saveVersusCopyFile));
      console.log(renderQuantizedModelBenchmarks(quantized));
      console.log(renderBenchmarkOverhead(benchmarkOverhead));
    }
    return pass ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    removeWork();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`benchmark failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = isModelpressError(error) ? error.exitCode : 1;
}
