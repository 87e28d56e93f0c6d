import type { Command } from 'commander';
import { ModelpressError, UsageError } from '../errors.js';
import { DEFAULT_EXPORT_OPTIONS, SUPPORTED_OPSETS } from '../export/export-contract.js';
import { exportOnnx } from '../export/export-model.js';
import { renderExportReport } from '../export/render-export-report.js';
import { DEFAULT_EXPORT_TOLERANCE } from '../export/verify-export.js';
import { parseShapeOverrides } from '../verify/input-shapes.js';
import { contextFor } from './command-context.js';
import { collectRepeated, numberParser } from './option-parsers.js';

interface ExportOnnxCommandOptions {
  output: string;
  opset: number;
  nchw?: boolean;
  verify: boolean;
  tolerance: number;
  data?: string;
  shape: string[];
  force?: boolean;
  fixedBatch?: boolean;
}



export function registerExportOnnxCommand(program: Command): void {
  program
    .command('export-onnx')
    .description('convert a TF.js model to ONNX and check both give the same outputs')
    .argument('<model>', 'a TF.js model.json (LayersModel or GraphModel), or a folder holding model.json')
    .requiredOption('-o, --output <file>', 'where to write the .onnx model')
    .option(
      '--opset <n>',
      `ONNX opset, ${SUPPORTED_OPSETS.min}-${SUPPORTED_OPSETS.max}`,
      numberParser('--opset', (value) => Number.isInteger(value) && value >= SUPPORTED_OPSETS.min && value <= SUPPORTED_OPSETS.max, `an integer ${SUPPORTED_OPSETS.min}-${SUPPORTED_OPSETS.max}`),
      DEFAULT_EXPORT_OPTIONS.opset,
    )
    .option('--nchw', 'give image inputs and outputs (rank 4 and 5) a channels-first interface instead of TF.js\'s NHWC')
    .option('--fixed-batch', 'fix the batch dimension (to the model\'s, else 1) instead of leaving it dynamic')
    .option('--no-verify', 'skip running tfjs and onnxruntime side by side')
    .option('--tolerance <x>', 'largest relative error accepted per output: max|tfjs - onnx| / max|tfjs|', numberParser('--tolerance', (value) => value >= 0, 'a non-negative number'), DEFAULT_EXPORT_TOLERANCE)
    .option('--data <file>', 'verification inputs (.npy, .npz or .json keyed by input name, in the TF.js layout) instead of generated ones')
    .option('--shape <name=dims>', 'concrete shape for an input with open dimensions, e.g. image=1x64x64x3 (repeatable)', collectRepeated, [])
    .option('--force', 'replace an existing output file')
    .action(async (modelPath: string, flags: ExportOnnxCommandOptions, command: Command) => {
      const context = contextFor(command);
      if (!flags.verify && (flags.data || flags.shape.length > 0)) throw new UsageError('--data and --shape are verification inputs; they do nothing with --no-verify');
      const report = await exportOnnx({
        input: modelPath,
        output: flags.output,
        options: { opset: flags.opset, nchw: flags.nchw ?? false, dynamicBatch: !flags.fixedBatch },
        force: flags.force ?? false,
        verify: flags.verify,
        tolerance: flags.tolerance,
        shapes: parseShapeOverrides(flags.shape),
        dataFile: flags.data,
        log: context.log,
        engine: () => context.engine(),
      });
      context.output.result(report, (value) => renderExportReport(value, context.stdoutStyles));
      const failed = report.verification?.outputs.filter((output) => output.relativeError > report.verification!.tolerance) ?? [];
      if (failed.length > 0) {
        throw new ModelpressError(
          `verification failed: ${failed.map((output) => `${output.output} relative error ${output.relativeError.toExponential(2)}`).join(', ')} > tolerance ${flags.tolerance} (the model was written to ${flags.output})`,
        );
      }
    });
}
