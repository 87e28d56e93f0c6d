import type { Command } from 'commander';
import { registerBenchmarkCommand } from './benchmark.js';
import { registerDistillCommand } from './distill.js';
import { registerExportOnnxCommand } from './export-onnx.js';
import { registerInspectCommand } from './inspect.js';
import { registerPruneCommand } from './prune.js';
import { registerQuantizeCommand } from './quantize.js';

/** Every subcommand, in the order --help lists them; a new command is one file and one row here. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerInspectCommand,
  registerQuantizeCommand,
  registerPruneCommand,
  registerDistillCommand,
  registerExportOnnxCommand,
  registerBenchmarkCommand,
];
