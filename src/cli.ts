import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/command-table.js';
import { addGlobalOptions } from './commands/global-options.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, isModelpressError } from './errors.js';
import { stylesFor } from './terminal/color-policy.js';
import { formatErrorReport } from './terminal/error-report.js';
import { routeConsoleToStderr } from './terminal/stdout-guard.js';

// Read at run time rather than imported: this file runs from dist/src/, two levels under the package root.
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  description: string;
};

export function buildProgram(): Command {
  const program = new Command('modelpress')
    .description(packageJson.description)
    .version(packageJson.version, '-V, --version', 'print the version')
    // Commander would print its own multi-line error and call process.exit; throwing instead lets
    // main() print one line and choose the exit code. Subcommands inherit both settings, so they must
    // be set before any command is added.
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    // --json, --device and friends work after the command name too, so each command's help lists them.
    .configureHelp({ showGlobalOptions: true });
  addGlobalOptions(program);
  for (const register of COMMANDS) register(program);
  return program;
}

/** Run the CLI on `argv` (as in process.argv) and return the exit code; never throws, never exits. */
export async function main(argv: string[] = process.argv): Promise<number> {
  routeConsoleToStderr();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (error) {
    return reportFailure(error, program);
  }
}

function reportFailure(error: unknown, program: Command): number {
  const styles = stylesFor(process.stderr);
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
    // `modelpress` alone prints help to stderr and reports 1; without a command it is a usage error.
    if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    // Commander puts "(Did you mean ...?)" on a second line; scripts and users get it on one.
    const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    process.stderr.write(formatErrorReport(new UsageError(message), { verbose: false, styles }));
    return EXIT_USAGE;
  }
  const verbose = Boolean(program.opts().verbose);
  process.stderr.write(formatErrorReport(error, { verbose, styles }));
  return isModelpressError(error) ? error.exitCode : EXIT_FAILURE;
}
