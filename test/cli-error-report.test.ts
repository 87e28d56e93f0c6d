import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Chalk } from 'chalk';
import { ModelpressError } from '../src/errors.js';
import { formatErrorReport } from '../src/terminal/error-report.js';
import { ANSI_ESCAPE, linesOf, runCli } from './support/run-cli.js';

const STACK_FRAME = /^\s+at /m;

describe('errors from a command', () => {
  test('inspect of a missing file: exit 1, one line naming the file, no stack', async () => {
    const result = await runCli(['inspect', 'no/such/model.onnx']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.deepEqual(linesOf(result.stderr), ['modelpress: error: no/such/model.onnx: no such file']);
  });

  test('--verbose adds the stack trace', async () => {
    const result = await runCli(['--verbose', 'inspect', 'no/such/model.onnx']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^modelpress: error: no\/such\/model\.onnx: no such file$/m);
    assert.match(result.stderr, STACK_FRAME);
  });

  test('--verbose also works after the command name', async () => {
    const result = await runCli(['inspect', 'no/such/model.onnx', '--verbose']);
    assert.match(result.stderr, STACK_FRAME);
  });

  test('a folder without model.json: exit 1, one line saying what was expected', async () => {
    const result = await runCli(['inspect', 'src']);
    assert.equal(result.code, 1);
    assert.deepEqual(linesOf(result.stderr), [
      'modelpress: error: cannot tell the model format of src (expected .onnx or TF.js model.json)',
    ]);
  });
});

describe('colour on stderr', () => {
  // FORCE_COLOR proves the error line is coloured when colour is on, so the checks below that find no
  // escapes mean the policy turned it off, not that the line was never coloured.
  test('FORCE_COLOR colours the error prefix red', async () => {
    const result = await runCli(['inspect', 'missing.onnx'], { env: { FORCE_COLOR: '1' } });
    assert.ok(result.stderr.includes(`${ANSI_ESCAPE}31mmodelpress: error:`), JSON.stringify(result.stderr));
  });

  test('no escapes when stderr is not a terminal', async () => {
    const result = await runCli(['inspect', 'missing.onnx']);
    assert.equal(result.code, 1);
    assert.ok(!result.stderr.includes(ANSI_ESCAPE), JSON.stringify(result.stderr));
  });

  test('no escapes with NO_COLOR, also in usage errors and --verbose output', async () => {
    for (const args of [['inspect', 'missing.onnx', '--verbose'], ['inspect', '--bogus']]) {
      const result = await runCli(args, { env: { NO_COLOR: '1' } });
      assert.ok(result.code === 1 || result.code === 2);
      assert.ok(!result.stderr.includes(ANSI_ESCAPE), JSON.stringify(result.stderr));
    }
  });
});

describe('formatErrorReport', () => {
  const red = new Chalk({ level: 1 });

  test('a ModelpressError is one line', () => {
    const text = formatErrorReport(new ModelpressError('model.onnx: truncated'), { verbose: false });
    assert.equal(text, 'modelpress: error: model.onnx: truncated\n');
  });

  test('any other error is a bug: the message line, then a hint to use --verbose, and no stack', () => {
    const text = formatErrorReport(new TypeError("Cannot read properties of undefined (reading 'dims')"), { verbose: false });
    const lines = linesOf(text);
    assert.equal(lines[0], "modelpress: error: Cannot read properties of undefined (reading 'dims')");
    assert.match(lines[1], /--verbose/);
    assert.equal(lines.length, 2);
    assert.doesNotMatch(text, STACK_FRAME);
  });

  test('verbose shows the stack frames once, without repeating the message', () => {
    const text = formatErrorReport(new TypeError('boom'), { verbose: true });
    assert.match(text, STACK_FRAME);
    assert.equal(text.split('boom').length - 1, 1);
  });

  test('verbose shows the cause of a wrapped error', () => {
    const text = formatErrorReport(new ModelpressError('model.onnx: cannot read', { cause: new Error('EACCES') }), { verbose: true });
    assert.match(text, /caused by: Error: EACCES/);
  });

  test('colour only through the given styles', () => {
    assert.ok(formatErrorReport(new ModelpressError('x'), { verbose: false, styles: red }).includes(ANSI_ESCAPE));
    assert.ok(!formatErrorReport(new ModelpressError('x'), { verbose: false }).includes(ANSI_ESCAPE));
  });
});
