import type { Command } from 'commander';
import { registerPlannedCommand } from './planned-command.js';

export function registerPruneCommand(program: Command): void {
  registerPlannedCommand(program, 'prune', 'remove low-magnitude weights or whole channels from a model');
}
