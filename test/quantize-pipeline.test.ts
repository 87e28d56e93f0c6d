import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ModelpressError, UsageError } from '../src/errors.js';
import { findWeightUses } from '../src/quantize/onnx/weight-uses.js';
import { bytesOf, deferQuantization } from '../src/quantize/onnx/deferred-quantization.js';
import { defaultQuantizeOptions } from '../src/quantize/quantize-options.js';
import { quantizeOnnxModel } from '../src/quantize/quantize-onnx-model.js';
import type { QuantizeRequest } from '../src/quantize/quantize-request.js';
import type { QuantizationScheme } from '../src/quantize/schemes.js';
import { createLogger } from '../src/terminal/logger.js';
import { samplePath } from './support/onnx-samples.js';

/**
 * The ONNX quantize pipeline (load -> rewrite -> save -> verify -> report) with stand-in schemes, so its
 * own behaviour is tested apart from any real scheme's numerics.
 */

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-pipeline-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const silent = createLogger({ stream: { write: () => true }, quiet: true });

function request(output: string, overrides: Partial<QuantizeRequest> = {}): QuantizeRequest {
  const options = defaultQuantizeOptions('stand-in');
  return { input: '', output, options, force: false, externalData: 'auto', verify: true, verifySamples: 2, shapes: {}, gates: {}, log: silent, ...overrides };
}

/** Scales every MatMul weight by `factor` (1 = an exact rewrite), streaming through deferQuantization. */
function scalingScheme(factor: number): QuantizationScheme {
  return {
    name: 'stand-in',
    summary: 'test scheme',
    onnx: async ({ model, options }) => {
      const { eligible, skipped } = findWeightUses(model, { inputs: { MatMul: 1 }, selection: options.selection });
      for (const use of eligible) {
        const replacement = { ...use.weight, name: `${use.weight.name}_scaled`, raw_data: undefined };
        use.graph.addInitializer(replacement);
        use.weightGraph.removeInitializer(use.weight.name!);
        use.node.input![use.inputIndex] = replacement.name;
        deferQuantization(model, use.weight, [replacement], (values) => [bytesOf(values.map((value) => value * factor))]);
      }
      return [
        ...eligible.map((use) => ({ weight: use.weight.name!, action: 'quantized' as const, elements: 1, bytesBefore: 4, bytesAfter: 4 })),
        ...skipped,
      ];
    },
  };
}

describe('ONNX quantize pipeline', () => {
  it('an exact rewrite verifies with cosine 1 and zero error; sizes and decisions are reported', async () => {
    const output = path.join(dir, 'out.onnx');
    const report = await quantizeOnnxModel(request(output), scalingScheme(1), samplePath('gpt-block.onnx'));
    assert.equal(report.tensors.quantized, 6, 'q, k, v, out, fc and proj weights');
    const verification = report.verification!;
    assert.equal(verification.inputs, 'generated');
    assert.equal(verification.samples, 2);
    assert.deepStrictEqual(verification.outputs.map((o) => [o.output, o.cosine, o.maxAbsError]), [['logits', 1, 0]]);
    assert.equal(verification.outputs[0]!.top1Agreement, 1);
    assert.equal(report.size.before, (await fs.stat(samplePath('gpt-block.onnx'))).size);
    assert.equal(report.size.after, (await fs.stat(output)).size);
    assert.deepStrictEqual(report.failedGates, []);
  });

  it('a lossy rewrite shows up in the error figures and trips the CI gates', async () => {
    const output = path.join(dir, 'out.onnx');
    const report = await quantizeOnnxModel(request(output, { gates: { maxError: 1e-6, minCosine: 0.9999999 } }), scalingScheme(0.5), samplePath('gpt-block.onnx'));
    const logits = report.verification!.outputs[0]!;
    assert.ok(logits.maxAbsError > 1e-3);
    assert.ok(logits.cosine < 0.9999999);
    assert.equal(report.failedGates.length, 2);
    assert.match(report.failedGates[0]!, /max abs error .* > --max-error 0.000001/);
  });

  it('nothing to quantize: a clear error and no output file', async () => {
    const output = path.join(dir, 'out.onnx');
    await assert.rejects(
      quantizeOnnxModel(request(output), scalingScheme(1), samplePath('cnn-batchnorm.onnx')),
      (error: unknown) => error instanceof ModelpressError && /nothing to quantize in .*cnn-batchnorm\.onnx/.test(error.message),
    );
    assert.deepStrictEqual(await fs.readdir(dir), []);
  });

  it('a symbolic dimension without --shape fails before anything is written', async () => {
    const output = path.join(dir, 'out.onnx');
    await assert.rejects(
      quantizeOnnxModel(request(output), scalingScheme(1), samplePath('ch_PP-OCRv4_rec_infer.onnx')),
      (error: unknown) => error instanceof UsageError && /input 'x' has a symbolic dimension 3 .*pass --shape x=1x3x48xN/.test(error.message),
    );
    assert.deepStrictEqual(await fs.readdir(dir), []);
  });

  it('refuses an existing output without --force before doing any work', async () => {
    const output = path.join(dir, 'out.onnx');
    await fs.writeFile(output, 'existing');
    await assert.rejects(quantizeOnnxModel(request(output), scalingScheme(1), samplePath('mlp.onnx')), /refusing to overwrite/);
    assert.equal(await fs.readFile(output, 'utf8'), 'existing');
  });

  it('Constant-node weights are rewritten like initializers', async () => {
    const output = path.join(dir, 'out.onnx');
    const report = await quantizeOnnxModel(request(output), scalingScheme(1), samplePath('constant-weights.onnx'));
    assert.deepStrictEqual(report.tensors.decisions.map((decision) => decision.weight), ['W']);
    assert.equal(report.verification!.outputs[0]!.maxAbsError, 0);
  });
});
