import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fixturesDir, repoRoot } from './support/repo-paths.js';
import { linesOf, runCli } from './support/run-cli.js';

const MLP = path.join(fixturesDir, 'mlp.onnx');
const CALIBRATION = path.join(repoRoot, 'fixtures', 'calibration');

/**
 * Every bad input is one line on stderr, nothing on stdout, and the right exit code: 2 for the command line
 * itself, 1 for files and models. `--duration 600` rides along wherever the run would otherwise start, so a
 * check that came too late would show as a hung test rather than pass.
 */
const CASES: Array<{ name: string; args: string[]; code: 1 | 2; message: RegExp }> = [
  { name: 'a missing model file', args: ['missing.onnx'], code: 1, message: /missing\.onnx: no such file/ },
  { name: 'an unsupported format', args: [path.join(repoRoot, 'README.md')], code: 1, message: /cannot tell the model format of .*README\.md/ },
  { name: '--shape naming an input the model lacks', args: [MLP, '--shape', 'pixels=1x16'], code: 2, message: /--shape names 'pixels', but the model's inputs are 'input'/ },
  { name: '--shape the model rejects (a fixed dimension)', args: [MLP, '--shape', 'input=1x17'], code: 2, message: /input 'input' fixes dimension 1 at 16/ },
  { name: '--shape of the wrong rank', args: [MLP, '--shape', 'input=1x16x2'], code: 2, message: /has 3 dimensions, the input has 2/ },
  { name: '--data naming an input the model lacks', args: [MLP, '--data', path.join(CALIBRATION, 'gpt-block-ids.npz')], code: 1, message: /'input_ids' is not an input of the model \(inputs: input\)/ },
  { name: '--data of the wrong shape', args: [path.join(fixturesDir, 'cnn-batchnorm.onnx'), '--data', path.join(CALIBRATION, 'mlp-samples.npz')], code: 1, message: /mlp-samples\.npz/ },
  { name: 'a second model that cannot take the first one\'s inputs', args: [MLP, path.join(fixturesDir, 'cnn-batchnorm.onnx')], code: 1, message: /cnn-batchnorm\.onnx: input 'image' \(fed from 'input'\) is \[batch, 3, 16, 16\], the benchmark feeds \[1, 16\]/ },
  { name: 'zero runs', args: [MLP, '--runs', '0'], code: 2, message: /--runs '0': expected an integer >= 1/ },
  { name: 'negative runs', args: [MLP, '--runs', '-3'], code: 2, message: /--runs '-3'/ },
  { name: 'a zero duration', args: [MLP, '--duration', '0'], code: 2, message: /--duration '0': expected a positive number/ },
  { name: '--runs with --duration', args: [MLP, '--runs', '3', '--duration', '1'], code: 2, message: /--runs and --duration contradict/ },
  { name: 'a zero batch size', args: [MLP, '--batch-size', '1,0'], code: 2, message: /--batch-size '0'/ },
  { name: 'zero concurrency', args: [MLP, '--concurrency', '0'], code: 2, message: /--concurrency '0'/ },
  { name: 'a malformed --fail-if', args: [MLP, '--fail-if', 'speedup=>2'], code: 2, message: /--fail-if 'speedup=>2': expected METRIC OP NUMBER/ },
  { name: 'an unknown --fail-if metric', args: [MLP, '--fail-if', 'latency<2'], code: 2, message: /unknown metric 'latency'/ },
  { name: 'a comparison gate with one model', args: [MLP, '--fail-if', 'speedup<1.3'], code: 2, message: /compares with a baseline: give two models/ },
  { name: 'a provider whose binaries are missing', args: [MLP, '--provider', 'cuda'], code: 1, message: /--provider cuda: onnxruntime-node's cuda binaries are not installed .*ONNXRUNTIME_NODE_INSTALL=cuda12/ },
  { name: '--cuda-graph without the CUDA provider', args: [MLP, '--cuda-graph'], code: 2, message: /--cuda-graph needs --provider cuda/ },
  { name: '--batch-size with --data', args: [MLP, '--data', path.join(CALIBRATION, 'mlp-samples.npz'), '--batch-size', '2'], code: 2, message: /--batch-size cannot be combined with --data/ },
];

describe('benchmark: bad input is one line and an exit code, before any timed run', () => {
  for (const { name, args, code, message } of CASES) {
    it(`${name}: exit ${code}`, async () => {
      const result = await runCli(['benchmark', ...args, ...(args.includes('--runs') || args.includes('--duration') ? [] : ['--duration', '600'])], { timeoutMs: 30_000 });
      assert.equal(result.code, code, result.stderr);
      assert.equal(result.stdout, '');
      const lines = linesOf(result.stderr);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, /^modelpress: error: /);
      assert.match(lines[0]!, message);
    });
  }
});
