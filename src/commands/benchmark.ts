import { Option, type Command } from 'commander';
import { promises as fs } from 'node:fs';
import type { BenchmarkResult } from '../benchmark/benchmark-result.js';
import { DEFAULT_INPUT_SETS } from '../benchmark/benchmark-inputs.js';
import { parseGate } from '../benchmark/gates.js';
import { renderBenchmark, renderBenchmarkCsv, renderBenchmarkMarkdown } from '../benchmark/render-benchmark.js';
import { runBenchmark } from '../benchmark/run-benchmark.js';
import { ModelpressError, UsageError } from '../errors.js';
import { checkOutputFolders, checkOutputPaths, writeAtomically } from '../io/atomic-write.js';
import type { GraphOptimizationLevel, OnnxProviderName } from '../runners/model-runner.js';
import { ONNX_PROVIDERS } from '../runners/onnxruntime-runner.js';
import { parseShapeOverrides } from '../verify/input-shapes.js';
import { contextFor } from './command-context.js';
import { collectRepeated, integerParser } from './option-parsers.js';

interface BenchmarkCommandOptions {
  warmup: number;
  runs?: number;
  duration?: number;
  batchSize?: number[];
  concurrency: number[];
  shape: string[];
  data?: string;
  inputSets: number;
  provider: OnnxProviderName;
  threads?: number;
  interThreads?: number;
  graphOpt?: GraphOptimizationLevel;
  cudaGraph?: boolean;
  jsonFile?: string;
  markdown?: string;
  csv?: string;
  failIf: string[];
  force?: boolean;
}

const DEFAULT_RUNS = 100;


function integerListParser(flag: string) {
  const one = integerParser(flag, 1);
  return (text: string) => [...new Set(text.split(',').map((item) => one(item.trim())))].sort((a, b) => a - b);
}

function secondsParser(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new UsageError(`--duration '${text}': expected a positive number of seconds`);
  return value;
}


export function registerBenchmarkCommand(program: Command): void {
  program
    .command('benchmark')
    .description('measure latency, throughput, memory and output agreement of models side by side (the first is the baseline)')
    .argument('<models...>', '.onnx files, TF.js model.json files or folders holding model.json')
    .option('--warmup <n>', 'untimed runs before timing each measurement', integerParser('--warmup', 0), 5)
    .option('--runs <n>', `timed runs per measurement (default ${DEFAULT_RUNS} unless --duration)`, integerParser('--runs', 1))
    .option('--duration <seconds>', 'time each measurement for this long instead of a run count', secondsParser)
    .option('--batch-size <list>', 'batch sizes to sweep, e.g. 1,8,32 (dimension 0 of every input)', integerListParser('--batch-size'))
    .option('--concurrency <n>', 'requests in flight against one model; N > 1 also measures 1 for the scaling (a list like 1,2,4 works)', integerListParser('--concurrency'), [1])
    .option('--shape <name=dims>', 'concrete shape for an input with open dimensions, e.g. x=1x3x48x320 (repeatable)', collectRepeated, [])
    .option('--data <file>', 'real inputs (.npy, .npz or .json keyed by input name), fed to every model')
    .option('--input-sets <n>', 'distinct generated input sets the runs cycle through', integerParser('--input-sets', 1), DEFAULT_INPUT_SETS)
    .addOption(new Option('--provider <provider>', 'onnxruntime execution provider').choices(Object.keys(ONNX_PROVIDERS)).default('cpu'))
    .option('--threads <n>', 'onnxruntime intra-op threads (default: onnxruntime chooses)', integerParser('--threads', 1))
    .option('--inter-threads <n>', 'onnxruntime inter-op threads', integerParser('--inter-threads', 1))
    .addOption(new Option('--graph-opt <level>', 'onnxruntime graph optimization level (default all)').choices(['disabled', 'basic', 'extended', 'all']))
    .option('--cuda-graph', "onnxruntime CUDA-graph capture (with --provider cuda)")
    .option('--json-file <file>', 'also write the whole result as JSON (docs/benchmark-result.schema.json)')
    .option('--markdown <file>', 'also write the result as markdown tables (for a pull-request comment)')
    .option('--csv <file>', 'also write one CSV row per model and measurement')
    .option('--fail-if <condition>', 'exit 1 when a condition holds, e.g. "speedup<1.3", "cosine<0.999", "p99_ms>50" (repeatable)', collectRepeated, [])
    .option('--force', 'replace existing output files')
    .action(async (models: string[], flags: BenchmarkCommandOptions, command: Command) => {
      const context = contextFor(command);
      if (flags.runs !== undefined && flags.duration !== undefined) throw new UsageError('--runs and --duration contradict each other: give one');
      const gates = flags.failIf.map(parseGate);
      const outputs = [flags.jsonFile, flags.markdown, flags.csv].filter((file): file is string => file !== undefined);
      checkOutputFolders(outputs);
      checkOutputPaths(outputs, models, flags.force ?? false);
      const concurrency = flags.concurrency.length === 1 && flags.concurrency[0]! > 1 ? [1, flags.concurrency[0]!] : flags.concurrency;

      const result = await runBenchmark({
        models,
        runner: {
          provider: flags.provider,
          intraOpThreads: flags.threads,
          interOpThreads: flags.interThreads,
          graphOptimization: flags.graphOpt,
          cudaGraph: flags.cudaGraph ?? false,
          engine: () => context.engine(),
        },
        warmup: flags.warmup,
        runs: flags.duration === undefined ? (flags.runs ?? DEFAULT_RUNS) : undefined,
        durationSeconds: flags.duration,
        batchSizes: flags.batchSize,
        concurrency,
        shapes: parseShapeOverrides(flags.shape),
        dataFile: flags.data,
        inputSets: flags.inputSets,
        gates,
        device: context.options.device,
        log: context.log,
        progress: context.progress,
      });
      await writeOutputFiles(result, flags);
      context.output.result(result, (value) => renderBenchmark(value, context.stdoutStyles));
      if (!result.passed) throw new ModelpressError(failureSummary(result));
    });
}

async function writeOutputFiles(result: BenchmarkResult, flags: BenchmarkCommandOptions): Promise<void> {
  const files: Array<[string | undefined, () => string]> = [
    [flags.jsonFile, () => `${JSON.stringify(result, null, 2)}\n`],
    [flags.markdown, () => renderBenchmarkMarkdown(result)],
    [flags.csv, () => renderBenchmarkCsv(result)],
  ];
  await writeAtomically(async (transaction) => {
    for (const [file, render] of files) if (file !== undefined) await fs.writeFile(transaction.stage(file), render());
  });
}

function failureSummary(result: BenchmarkResult): string {
  const failedModels = result.models.filter((model) => model.status === 'failed').map((model) => `${model.path} failed (${model.error})`);
  const failedGates = result.gates.filter((gate) => !gate.passed).map((gate) => `gate failed: ${gate.expression} (${gate.failures.join('; ')})`);
  return [...failedModels, ...failedGates].join('; ');
}
