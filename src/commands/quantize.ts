import type { Command } from 'commander';
import { registerPlannedCommand } from './planned-command.js';

export function registerQuantizeCommand(program: Command): void {
  registerPlannedCommand(program, 'quantize', 'store weights in fewer bits (int8, int4, nf4, fp16, ...) to shrink a model');
}
