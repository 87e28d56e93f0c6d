import type { ChalkInstance } from 'chalk';
import { plainStyles } from './color-policy.js';

/**
 * Messages for the person at the terminal. Everything goes to stderr so stdout carries only the
 * command's result (text or the --json document) and can be piped.
 */
export interface Logger {
  /** Normal progress notes ("wrote model.int8.onnx"); silenced by --quiet. */
  info(message: string): void;
  /** Something the user should know even with --quiet (a lossy choice, a skipped tensor). */
  warn(message: string): void;
  /** Only with --verbose: which engine loaded, why a fallback happened, timings. */
  debug(message: string): void;
  readonly debugEnabled: boolean;
}

export interface LoggerOptions {
  stream?: { write(text: string): unknown };
  quiet?: boolean;
  verbose?: boolean;
  styles?: ChalkInstance;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const styles = options.styles ?? plainStyles;
  const quiet = options.quiet ?? false;
  const verbose = options.verbose ?? false;
  return {
    info(message) {
      if (!quiet) stream.write(`${message}\n`);
    },
    warn(message) {
      stream.write(`${styles.yellow('modelpress: warning:')} ${message}\n`);
    },
    debug(message) {
      if (verbose) stream.write(styles.dim(`modelpress: debug: ${message}`) + '\n');
    },
    debugEnabled: verbose,
  };
}

/** For library code and tests that need a Logger but have no one to tell. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  debug() {},
  debugEnabled: false,
};
