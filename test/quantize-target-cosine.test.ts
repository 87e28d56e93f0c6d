import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { QuantizeReport } from '../src/quantize/quantize-report.js';
import { fixturesDir } from './support/repo-paths.js';
import { linesOf, runCli } from './support/run-cli.js';

/**
 * --target-cosine on the GPT-block fixture with int4 block 16 (all six weights quantized: cosine about
 * 0.98 on generated inputs): the search must keep some, not all, weights float, and reach the target.
 */

const MODEL = path.join(fixturesDir, 'gpt-block.onnx');
let workDir: string;
before(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-target-test-'));
});
after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

async function quantize(name: string, extra: string[]) {
  const output = path.join(workDir, name);
  const result = await runCli(['quantize', MODEL, '-o', output, '--scheme', 'int4', '--block-size', '16', '--json', ...extra]);
  return { ...result, output, report: result.code === 0 ? (JSON.parse(result.stdout) as QuantizeReport) : undefined };
}

describe('quantize --target-cosine', () => {
  it('keeps the most damaging weights float until the output cosine reaches the target', async () => {
    const plain = await quantize('plain.onnx', []);
    assert.equal(plain.code, 0, plain.stderr);
    const plainCosine = plain.report!.verification!.outputs[0]!.cosine;
    const quantizedCount = plain.report!.tensors.quantized;
    assert.ok(plainCosine < 0.995, `fixture too easy: all-quantized cosine ${plainCosine}`);

    const target = 0.995;
    const tuned = await quantize('tuned.onnx', ['--target-cosine', String(target)]);
    assert.equal(tuned.code, 0, tuned.stderr);
    const report = tuned.report!;
    const search = report.accuracyTarget!;
    assert.equal(search.targetCosine, target);
    assert.ok(Math.abs(search.cosineAllQuantized - plainCosine) < 1e-9, 'the search starts from the all-quantized model');
    assert.ok(report.verification!.outputs[0]!.cosine >= target, `written model: cosine ${report.verification!.outputs[0]!.cosine}`);
    assert.equal(search.cosine, report.verification!.outputs[0]!.cosine);
    assert.ok(search.keptFloat.length > 0 && search.keptFloat.length < quantizedCount, `kept ${search.keptFloat.length} of ${quantizedCount}`);
    // Most damaging first, and each kept weight is reported as skipped with the reason.
    const alone = search.keptFloat.map((weight) => weight.cosineAlone);
    assert.deepEqual(alone, [...alone].sort((a, b) => a - b));
    for (const kept of search.keptFloat) {
      const decision = report.tensors.decisions.find((candidate) => candidate.weight === kept.weight)!;
      assert.equal(decision.action, 'skipped');
      assert.match(decision.reason!, /--target-cosine 0\.995/);
    }
    assert.equal(report.tensors.quantized, quantizedCount - search.keptFloat.length);
    assert.ok(report.size.after > plain.report!.size.after, 'keeping weights float costs size');
  });

  it('fails with one line and writes nothing when the target cannot be reached', async () => {
    const result = await quantize('unreachable.onnx', ['--target-cosine', '1']);
    assert.equal(result.code, 1);
    const lines = linesOf(result.stderr);
    assert.match(lines.at(-1)!, /error: --target-cosine 1 is out of reach/);
    assert.ok(!lines.some((line) => /^\s+at /.test(line)), 'no stack trace without --verbose');
    await assert.rejects(fs.access(result.output));
  });

  it('is a usage error without verification', async () => {
    const result = await quantize('no-verify.onnx', ['--target-cosine', '0.99', '--no-verify']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--target-cosine need(s)? verification/);
  });
});
