import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from './support/repo-paths.js';
import { runCli } from './support/run-cli.js';

const COMMAND_NAMES = ['inspect', 'quantize', 'prune', 'distill', 'export-onnx', 'benchmark'];

describe('modelpress --help', () => {
  test('the program help lists every command and the global options, exit 0', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    for (const name of COMMAND_NAMES) assert.match(result.stdout, new RegExp(`^  ${name}\\b`, 'm'), name);
    for (const option of ['--json', '--verbose', '--quiet', '--device <device>']) assert.ok(result.stdout.includes(option), option);
    assert.equal(result.stderr, '');
  });

  for (const name of COMMAND_NAMES) {
    test(`${name} --help names the command, shows the global options, exit 0`, async () => {
      const result = await runCli([name, '--help']);
      assert.equal(result.code, 0);
      assert.match(result.stdout, new RegExp(`^Usage: modelpress ${name}\\b`, 'm'));
      assert.ok(result.stdout.includes('--device <device>'), 'global options listed');
    });
  }

  test('help <command> is the same as <command> --help', async () => {
    const viaHelp = await runCli(['help', 'inspect']);
    const viaFlag = await runCli(['inspect', '--help']);
    assert.equal(viaHelp.code, 0);
    assert.equal(viaHelp.stdout, viaFlag.stdout);
  });

  test('--version prints the version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.trim(), version);
  });
});
