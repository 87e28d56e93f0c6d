import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { linesOf, runCli } from './support/run-cli.js';

const PLANNED = ['prune', 'distill'];

describe('commands not written yet', () => {
  for (const name of PLANNED) {
    test(`${name} fails with "not implemented yet", exit 1, whatever it is given`, async () => {
      const result = await runCli([name, 'model.onnx', '--bits', '4']);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.deepEqual(linesOf(result.stderr), [`modelpress: error: modelpress ${name}: not implemented yet`]);
    });
  }
});
