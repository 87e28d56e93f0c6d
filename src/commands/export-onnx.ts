import type { Command } from 'commander';
import { registerPlannedCommand } from './planned-command.js';

export function registerExportOnnxCommand(program: Command): void {
  registerPlannedCommand(program, 'export-onnx', 'convert a TF.js model to ONNX');
}
