/**
 * Errors a user can act on. Every failure that reaches the CLI is one of these, so the CLI can print a
 * single line and pick the exit code without guessing; anything else is a bug and shows its stack.
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A problem with a model, a file or the environment: exit 1. The message names the file, tensor or node. */
export class ModelpressError extends Error {
  readonly exitCode: number = EXIT_FAILURE;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line itself is wrong (bad option, missing argument, conflicting flags): exit 2. */
export class UsageError extends ModelpressError {
  override readonly exitCode: number = EXIT_USAGE;
}

/** The bytes on disk are not the format they claim to be (empty, truncated, random, wrong JSON). */
export class FormatError extends ModelpressError {}

/** Writing would destroy something the user has: the input, or an existing output without --force. */
export class OutputRefusedError extends ModelpressError {}

export function isModelpressError(error: unknown): error is ModelpressError {
  return error instanceof ModelpressError;
}

/** The message of any thrown value, for wrapping low-level errors with the file they concern. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
