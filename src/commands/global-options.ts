import { Option, type Command } from 'commander';
import { DEVICE_CHOICES, DEVICE_CHOICE_NAMES, type DeviceChoice } from '../engine/device-choice.js';

/** Options every command accepts, before or after its name. */
export interface GlobalOptions {
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  device: DeviceChoice;
}

export function addGlobalOptions(program: Command): Command {
  const devices = DEVICE_CHOICE_NAMES.map((name) => `${name} (${DEVICE_CHOICES[name].summary})`).join(', ');
  return program
    .addOption(new Option('--json', 'print the result as one JSON document on stdout (logs stay on stderr)'))
    .addOption(new Option('--verbose', 'debug logs, and stack traces on errors'))
    .addOption(new Option('--quiet', 'print only the result, warnings and errors').conflicts('verbose'))
    .addOption(new Option('--device <device>', `where tensors are computed: ${devices}`).choices(DEVICE_CHOICE_NAMES).default('auto'));
}

/** The global options as seen from a subcommand, whichever side of its name they were written on. */
export function globalOptionsOf(command: Command): GlobalOptions {
  const options = command.optsWithGlobals<Partial<GlobalOptions>>();
  return {
    json: options.json === true,
    verbose: options.verbose === true,
    quiet: options.quiet === true,
    device: options.device ?? 'auto',
  };
}
