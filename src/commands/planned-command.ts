import type { Command } from 'commander';
import { ModelpressError } from '../errors.js';

/**
 * Register a command whose implementation has not landed, so that --help lists it already. It takes
 * any arguments and options: whatever a user tries, the answer should be "not implemented yet", not
 * a usage error about flags that will exist later.
 */
export function registerPlannedCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new ModelpressError(`modelpress ${name}: not implemented yet`);
    });
}
