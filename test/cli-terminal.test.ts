import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { Chalk } from 'chalk';
import { colorLevel, stylesFor } from '../src/terminal/color-policy.js';
import { formatBytes, formatCount } from '../src/terminal/format-units.js';
import { createLogger } from '../src/terminal/logger.js';
import { createProgressFactory, progressEnabled } from '../src/terminal/progress.js';
import { renderTable } from '../src/terminal/text-table.js';
import { ANSI_ESCAPE } from './support/run-cli.js';

const terminal = { isTTY: true, getColorDepth: () => 8 };
const pipe = { isTTY: false };

describe('colour policy', () => {
  test('a terminal gets colour at its depth', () => {
    assert.equal(colorLevel(terminal, {}), 2);
    assert.equal(colorLevel({ isTTY: true, getColorDepth: () => 24 }, {}), 3);
    assert.equal(colorLevel({ isTTY: true, getColorDepth: () => 1 }, {}), 0);
  });

  test('a pipe or file gets none', () => {
    assert.equal(colorLevel(pipe, {}), 0);
    assert.equal(colorLevel({}, {}), 0);
  });

  test('NO_COLOR turns it off even on a terminal, but only when non-empty', () => {
    assert.equal(colorLevel(terminal, { NO_COLOR: '1' }), 0);
    assert.equal(colorLevel(terminal, { NO_COLOR: 'false' }), 0);
    assert.equal(colorLevel(terminal, { NO_COLOR: '' }), 2);
  });

  test('FORCE_COLOR decides first: on for pipes, off for terminals, and over NO_COLOR', () => {
    assert.equal(colorLevel(pipe, { FORCE_COLOR: '1' }), 1);
    assert.equal(colorLevel(pipe, { FORCE_COLOR: '' }), 1);
    assert.equal(colorLevel(pipe, { FORCE_COLOR: '3' }), 3);
    assert.equal(colorLevel(terminal, { FORCE_COLOR: '0' }), 0);
    assert.equal(colorLevel(terminal, { FORCE_COLOR: 'false' }), 0);
    assert.equal(colorLevel(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }), 1);
  });

  test('stylesFor applies the policy to chalk, which would otherwise ignore NO_COLOR', () => {
    assert.ok(stylesFor(terminal, {}).red('x').includes(ANSI_ESCAPE));
    assert.equal(stylesFor(terminal, { NO_COLOR: '1' }).red('x'), 'x');
    assert.equal(stylesFor(pipe, {}).red('x'), 'x');
  });
});

describe('logger', () => {
  function capture() {
    const chunks: string[] = [];
    return { stream: { write: (text: string) => chunks.push(text) }, text: () => chunks.join('') };
  }

  test('info and warn are shown by default, debug is not', () => {
    const out = capture();
    const log = createLogger({ stream: out.stream });
    log.info('wrote model.int8.onnx');
    log.warn('skipped tensor emb');
    log.debug('engine wasm');
    assert.equal(out.text(), 'wrote model.int8.onnx\nmodelpress: warning: skipped tensor emb\n');
    assert.equal(log.debugEnabled, false);
  });

  test('--quiet silences info but not warnings', () => {
    const out = capture();
    const log = createLogger({ stream: out.stream, quiet: true });
    log.info('wrote model.int8.onnx');
    log.warn('skipped tensor emb');
    assert.equal(out.text(), 'modelpress: warning: skipped tensor emb\n');
  });

  test('--verbose enables debug', () => {
    const out = capture();
    const log = createLogger({ stream: out.stream, verbose: true });
    log.debug('engine wasm');
    assert.equal(out.text(), 'modelpress: debug: engine wasm\n');
    assert.equal(log.debugEnabled, true);
  });
});

describe('progress bars', () => {
  function fakeStream(isTTY: boolean) {
    const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
    stream.isTTY = isTTY;
    stream.columns = 100;
    let written = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => (written += chunk));
    return { stream, written: () => written };
  }

  test('only on a terminal, and never with --json or --quiet', () => {
    const tty = fakeStream(true).stream;
    assert.equal(progressEnabled({ stream: tty, json: false, quiet: false }), true);
    assert.equal(progressEnabled({ stream: tty, json: true, quiet: false }), false);
    assert.equal(progressEnabled({ stream: tty, json: false, quiet: true }), false);
    assert.equal(progressEnabled({ stream: fakeStream(false).stream, json: false, quiet: false }), false);
  });

  test('a disabled factory hands out bars that write nothing', async () => {
    const fake = fakeStream(false);
    const bar = createProgressFactory({ stream: fake.stream, json: false, quiet: false })('quantizing', 3);
    bar.increment();
    bar.update(3);
    bar.stop();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fake.written(), '');
  });

  test('an enabled factory draws the label and the count', async () => {
    const fake = fakeStream(true);
    const bar = createProgressFactory({ stream: fake.stream, json: false, quiet: false })('quantizing', 4);
    bar.increment(2);
    bar.stop();
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(fake.written(), /quantizing \[.*\] 50% 2\/4/);
  });
});

describe('units and tables', () => {
  test('formatBytes uses binary units, whole bytes below 1 KiB', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(14_050_000), '13.4 MiB');
    assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  });

  test('formatCount groups thousands', () => {
    assert.equal(formatCount(3504872), '3,504,872');
    assert.equal(formatCount(12), '12');
  });

  test('renderTable pads columns, right-aligns numbers, styles only the header', () => {
    const table = renderTable(
      [{ header: 'name' }, { header: 'count', align: 'right' }],
      [['Conv', '52'], ['BatchNormalization', '7']],
    );
    assert.equal(table, ['  name                count', '  Conv                   52', '  BatchNormalization      7'].join('\n'));
    const coloured = renderTable([{ header: 'name' }], [['Conv']], new Chalk({ level: 1 }));
    assert.ok(coloured.split('\n')[0].includes(ANSI_ESCAPE));
    assert.equal(coloured.split('\n')[1], '  Conv');
  });
});
