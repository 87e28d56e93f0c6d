import { spawn } from 'node:child_process';
import { cliPath, repoRoot } from './repo-paths.js';

export interface CliResult {
  /** Exit code; null only if the process was killed (then the test should fail loudly). */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  /** Overrides on top of this process's environment; undefined removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
}

// Variables that change how the CLI looks; tests start without them so results do not depend on the
// terminal or CI that runs them (the node:test runner sets NODE_TEST_CONTEXT for its children).
const NEUTRALISED = ['NO_COLOR', 'FORCE_COLOR', 'NODE_TEST_CONTEXT', 'TERM'];

/** Run `node bin/modelpress ...args` with pipes for stdout and stderr (so never a TTY). */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of NEUTRALISED) delete env[name];
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd ?? repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The non-empty lines of some output, for "exactly one line" checks. */
export function linesOf(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

/** ESC, the start of every ANSI colour or cursor sequence. */
export const ANSI_ESCAPE = '\u001b[';
