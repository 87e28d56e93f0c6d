import type { Command } from 'commander';
import { registerPlannedCommand } from './planned-command.js';

export function registerBenchmarkCommand(program: Command): void {
  registerPlannedCommand(program, 'benchmark', 'measure latency, memory and output agreement of models');
}
