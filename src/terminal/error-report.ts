import type { ChalkInstance } from 'chalk';
import { isModelpressError } from '../errors.js';
import { plainStyles } from './color-policy.js';

/**
 * The text for an error that ended a command. A ModelpressError is the user's to fix, so its one
 * line is the whole story; anything else is a modelpress bug, still one line so scripts can grep
 * it, plus where to get the stack that a bug report needs.
 */
export function formatErrorReport(error: unknown, options: { verbose: boolean; styles?: ChalkInstance }): string {
  const styles = options.styles ?? plainStyles;
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`${styles.red('modelpress: error:')} ${message}`];
  if (options.verbose) {
    if (error instanceof Error && error.stack) lines.push(styles.dim(stackFrames(error.stack)));
    if (error instanceof Error && error.cause !== undefined) lines.push(styles.dim(`caused by: ${String(error.cause instanceof Error ? error.cause.stack ?? error.cause.message : error.cause)}`));
  } else if (!isModelpressError(error)) {
    lines.push(styles.dim('modelpress: this looks like a bug; run again with --verbose to see the stack trace'));
  }
  return `${lines.join('\n')}\n`;
}

// error.stack repeats the message on its first line(s); keep only the "    at ..." frames.
function stackFrames(stack: string): string {
  const lines = stack.split('\n');
  const firstFrame = lines.findIndex((line) => /^\s+at /.test(line));
  return (firstFrame === -1 ? lines : lines.slice(firstFrame)).join('\n');
}
