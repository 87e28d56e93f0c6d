import type { Command } from 'commander';
import { registerPlannedCommand } from './planned-command.js';

export function registerDistillCommand(program: Command): void {
  registerPlannedCommand(program, 'distill', 'train a smaller student model to imitate a teacher model');
}
