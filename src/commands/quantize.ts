import { Option, type Command } from 'commander';
import { promises as fs } from 'node:fs';
import { ModelpressError, UsageError } from '../errors.js';
import { checkOutputFolders, checkOutputPaths, writeAtomically } from '../io/atomic-write.js';
import { loadCalibrationForModel } from '../calibration/load-calibration-for-model.js';
import { WEIGHT_ALGORITHMS } from '../quantize/algorithms/weight-algorithms.js';
import type { QuantizeOptions } from '../quantize/quantize-options.js';
import { quantizeModel } from '../quantize/quantize-model.js';
import { renderQuantizeReport } from '../quantize/render-quantize-report.js';
import { QUANTIZATION_SCHEMES } from '../quantize/schemes.js';
import { WeightSelection } from '../quantize/weight-selection.js';
import { parseShapeOverrides } from '../verify/input-shapes.js';
import { contextFor } from './command-context.js';
import { collectList, collectRepeated, numberParser } from './option-parsers.js';

interface QuantizeCommandOptions {
  output: string;
  scheme: string;
  algo: string;
  perTensor?: boolean;
  symmetric?: boolean;
  blockSize?: number;
  format: 'ort' | 'qdq';
  accuracyLevel?: number;
  doubleQuant?: boolean;
  keepIoTypes?: boolean;
  opBlockList: string[];
  calibration?: string;
  calibrationMethod: 'minmax' | 'percentile' | 'entropy';
  percentile: number;
  outlierThreshold?: number;
  biasCorrection: boolean;
  include: string[];
  exclude: string[];
  minSize: number;
  verify: boolean;
  verifySamples: number;
  shape: string[];
  report?: string;
  maxError?: number;
  minCosine?: number;
  targetCosine?: number;
  force?: boolean;
  externalData: 'auto' | 'always' | 'never';
  dataFile?: string;
}



export function registerQuantizeCommand(program: Command): void {
  const schemes = QUANTIZATION_SCHEMES.map((scheme) => scheme.name);
  program
    .command('quantize')
    .description('store weights in fewer bits (int8, int4, nf4, fp16, ...) to shrink a model, and measure what it cost')
    .argument('<model>', 'an .onnx file, a TF.js model.json, or a folder holding model.json')
    .requiredOption('-o, --output <path>', 'where to write the quantized model (.onnx, or a TF.js model.json / folder)')
    .addHelpText('after', `\nSchemes:\n${QUANTIZATION_SCHEMES.map((scheme) => `  ${scheme.name.padEnd(13)}${scheme.summary}`).join('\n')}`)
    .addOption(new Option('--scheme <scheme>', 'how weights are stored (list below)').choices([...schemes, ...QUANTIZATION_SCHEMES.flatMap((scheme) => scheme.aliases ?? [])]).makeOptionMandatory())
    .addOption(new Option('--algo <algo>', 'per-weight algorithm').choices(Object.keys(WEIGHT_ALGORITHMS)).default('rtn'))
    .option('--per-tensor', 'int8: one scale per tensor instead of per output channel')
    .option('--symmetric', 'weights with a fixed zero point (int4 default: asymmetric; int8 default: symmetric)')
    .option('--asymmetric', 'weights with a zero point per block / channel')
    .option('--block-size <n>', 'int4: 16|32|64|128|256 (default 32); nf4/fp4: power of two >= 16 (default 64)', numberParser('--block-size', Number.isInteger, 'an integer'))
    .addOption(new Option('--format <format>', 'int4 operator: ort (com.microsoft MatMulNBits) or qdq (DequantizeLinear-21 with block_size)').choices(['ort', 'qdq']).default('ort'))
    .option('--accuracy-level <n>', 'MatMulNBits accuracy_level: 0-4 (default 4 = int8 compute of A, the fast CPU path; 0 leaves it to the runtime)', numberParser('--accuracy-level', (value) => Number.isInteger(value) && value >= 0 && value <= 4, 'an integer 0-4'))
    .option('--double-quant', 'nf4/fp4: store the per-block absmax values as 8-bit too (QLoRA)')
    .option('--keep-io-types', 'fp16/bf16: keep graph inputs and outputs float32')
    .option('--op-block-list <ops>', 'fp16/bf16: op types kept in float32 (comma-separated, repeatable)', collectList, [])
    .option('--calibration <file>', 'representative inputs (.npy, .npz or .json keyed by input name)')
    .addOption(new Option('--calibration-method <method>', 'int8-static activation ranges').choices(['minmax', 'percentile', 'entropy']).default('minmax'))
    .option('--percentile <p>', 'percentile of |activation| kept by --calibration-method percentile', numberParser('--percentile', (value) => value > 0 && value <= 100, 'a number in (0, 100]'), 99.99)
    .option('--outlier-threshold <t>', 'int8 MatMuls: keep input features whose calibrated |activation| exceeds t in float (LLM.int8(): 6.0)', numberParser('--outlier-threshold', (value) => value > 0, 'a positive number'))
    .option('--no-bias-correction', 'int8 with --calibration: leave biases as they are instead of correcting them for the mean shift each rounded weight causes')
    .option('--include <globs>', 'only weights whose node name, op type or weight name matches (comma-separated, repeatable)', collectList, [])
    .option('--exclude <globs>', 'leave weights whose node name, op type or weight name matches in float', collectList, [])
    .option('--min-size <n>', 'weights with fewer elements stay float', numberParser('--min-size', (value) => Number.isInteger(value) && value >= 0, 'a non-negative integer'), 0)
    .option('--no-verify', 'skip running original and quantized models to measure output error')
    .option('--verify-samples <n>', 'inputs to verify on', numberParser('--verify-samples', (value) => Number.isInteger(value) && value > 0, 'a positive integer'), 2)
    .option('--shape <name=dims>', 'concrete shape for an input with symbolic dimensions, e.g. x=1x3x48x320 (repeatable)', collectRepeated, [])
    .option('--report <file>', 'write the full report as JSON')
    .option('--max-error <x>', 'exit 1 when any output max abs error exceeds x (CI gate)', numberParser('--max-error', (value) => value >= 0, 'a non-negative number'))
    .option('--min-cosine <x>', 'exit 1 when any output cosine similarity is below x (CI gate)', numberParser('--min-cosine', (value) => value >= -1 && value <= 1, 'a number in [-1, 1]'))
    .option('--target-cosine <x>', 'keep the weights that damage the output most in float until the output cosine reaches x (one trial run per weight)', numberParser('--target-cosine', (value) => value > 0 && value <= 1, 'a number in (0, 1]'))
    .option('--force', 'replace existing output files')
    .addOption(new Option('--external-data <mode>', 'ONNX weights in <output>.data: auto (when the input had external data or the model passes 2 GiB), always, never').choices(['auto', 'always', 'never']).default('auto'))
    .option('--data-file <name>', 'ONNX external data file name (default <output file name>.data)')
    .action(async (modelPath: string, flags: QuantizeCommandOptions, command: Command) => {
      const context = contextFor(command);
      if (flags.symmetric && (flags as { asymmetric?: boolean }).asymmetric) throw new UsageError('--symmetric and --asymmetric contradict each other');
      if (flags.report) {
        checkOutputFolders([flags.report]);
        checkOutputPaths([flags.report], [modelPath], flags.force ?? false);
      }
      const calibration = flags.calibration ? await loadCalibrationForModel(flags.calibration, modelPath) : undefined;
      const options: QuantizeOptions = {
        scheme: flags.scheme,
        algo: flags.algo,
        perChannel: !flags.perTensor,
        symmetric: flags.symmetric ? true : (flags as { asymmetric?: boolean }).asymmetric ? false : undefined,
        blockSize: flags.blockSize,
        int4Format: flags.format,
        accuracyLevel: flags.accuracyLevel,
        doubleQuant: flags.doubleQuant ?? false,
        keepIoTypes: flags.keepIoTypes ?? false,
        opBlockList: flags.opBlockList,
        calibration,
        calibrationMethod: flags.calibrationMethod,
        percentile: flags.percentile,
        outlierThreshold: flags.outlierThreshold,
        biasCorrection: flags.biasCorrection,
        selection: new WeightSelection({ include: flags.include, exclude: flags.exclude, minSize: flags.minSize }),
      };
      const report = await quantizeModel({
        input: modelPath,
        output: flags.output,
        options,
        force: flags.force ?? false,
        externalData: flags.externalData,
        dataFileName: flags.dataFile,
        verify: flags.verify,
        verifySamples: flags.verifySamples,
        shapes: parseShapeOverrides(flags.shape),
        gates: { maxError: flags.maxError, minCosine: flags.minCosine },
        targetCosine: flags.targetCosine,
        log: context.log,
        progress: context.progress,
        engine: () => context.engine(),
      });
      if (flags.report) {
        const reportPath = flags.report;
        await writeAtomically(async (transaction) => fs.writeFile(transaction.stage(reportPath), `${JSON.stringify(report, null, 2)}\n`));
      }
      context.output.result(report, (value) => renderQuantizeReport(value, context.stdoutStyles));
      if (report.failedGates.length) throw new ModelpressError(`quality gate failed: ${report.failedGates.join('; ')}`);
    });
}
