import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { linesOf, runCli, type CliResult } from './support/run-cli.js';

function assertUsageError(result: CliResult, expected: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, '');
  const lines = linesOf(result.stderr);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0], /^modelpress: error: /);
  assert.match(lines[0], expected);
}

describe('usage errors exit 2 with one line on stderr', () => {
  test('unknown option', async () => {
    assertUsageError(await runCli(['inspect', '--frobnicate', 'model.onnx']), /unknown option '--frobnicate'/);
  });

  test('unknown option with a suggestion stays on one line', async () => {
    assertUsageError(await runCli(['inspect', '--jsn', 'model.onnx']), /unknown option '--jsn' \(Did you mean --json\?\)/);
  });

  test('unknown command', async () => {
    assertUsageError(await runCli(['compress', 'model.onnx']), /unknown command 'compress'/);
  });

  test('misspelt command suggests the real one on the same line', async () => {
    assertUsageError(await runCli(['inspec', 'model.onnx']), /unknown command 'inspec' \(Did you mean inspect\?\)/);
  });

  test('missing argument', async () => {
    assertUsageError(await runCli(['inspect']), /missing required argument 'model'/);
  });

  test('--quiet with --verbose', async () => {
    assertUsageError(await runCli(['--quiet', '--verbose', 'inspect', 'model.onnx']), /--quiet.*--verbose/);
  });

  test('no command at all prints help on stderr and exits 2', async () => {
    const result = await runCli([]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^Usage: modelpress/m);
  });
});
