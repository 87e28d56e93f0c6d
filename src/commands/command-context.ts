import type { ChalkInstance } from 'chalk';
import type { Command } from 'commander';
import { lazyEngine } from '../engine/select-engine.js';
import type { TensorEngine } from '../engine/tensor-engine.js';
import { stylesFor } from '../terminal/color-policy.js';
import { createCommandOutput, type CommandOutput } from '../terminal/command-output.js';
import { createLogger, type Logger } from '../terminal/logger.js';
import { createProgressFactory, type ProgressFactory } from '../terminal/progress.js';
import { globalOptionsOf, type GlobalOptions } from './global-options.js';

/**
 * Everything a command's action needs from the terminal and the environment, built from the global
 * options. Commands log through `log`, show long steps with `progress`, finish with one
 * `output.result(value, render)`, and ask for `engine()` only when they compute with tensors.
 */
export interface CommandContext {
  readonly options: GlobalOptions;
  readonly log: Logger;
  readonly output: CommandOutput;
  readonly progress: ProgressFactory;
  /** Colours for text headed to stdout (renderers take it; plain when stdout is piped or NO_COLOR is set). */
  readonly stdoutStyles: ChalkInstance;
  /** The tensor engine for --device, loaded on first call and shared afterwards. */
  engine(): Promise<TensorEngine>;
}

export function contextFor(command: Command): CommandContext {
  const options = globalOptionsOf(command);
  const log = createLogger({ stream: process.stderr, quiet: options.quiet, verbose: options.verbose, styles: stylesFor(process.stderr) });
  return {
    options,
    log,
    output: createCommandOutput({ json: options.json, stream: process.stdout }),
    progress: createProgressFactory({ stream: process.stderr, json: options.json, quiet: options.quiet }),
    stdoutStyles: stylesFor(process.stdout),
    engine: lazyEngine(options.device, { log }),
  };
}
