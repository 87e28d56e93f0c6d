import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateInputBatches, inputSetFor, matchInputs } from '../src/benchmark/benchmark-inputs.js';
import { resolveInputShape, shapeFits } from '../src/benchmark/input-shapes.js';
import { ModelpressError, UsageError } from '../src/errors.js';
import type { RunnerValueInfo } from '../src/runners/model-runner.js';

const image: RunnerValueInfo = { name: 'x', dtype: 'float32', shape: ['batch', 3, 'height', 'width'] };
const tokens: RunnerValueInfo = { name: 'ids', dtype: 'int64', shape: ['batch', 'sequence'] };
const features: RunnerValueInfo = { name: 'features', dtype: 'float32', shape: [null, 8] };

describe('benchmark inputs', () => {
  it('open dimensions get reported defaults: the batch 1, image sides 224, a token sequence 128, anything else 1', () => {
    assert.deepEqual(resolveInputShape(image, undefined, undefined), {
      shape: [1, 3, 224, 224],
      defaulted: ["dim 2 'height' = 224 (image side (NCHW))", "dim 3 'width' = 224 (image side (NCHW))"],
    });
    assert.deepEqual(resolveInputShape({ name: 'nhwc', dtype: 'float32', shape: [null, null, null, 1] }, undefined, 4).shape, [4, 224, 224, 1]);
    assert.deepEqual(resolveInputShape(tokens, undefined, 2).shape, [2, 128]);
    assert.deepEqual(resolveInputShape({ name: 'h', dtype: 'float32', shape: [null, 'length', 64] }, undefined, undefined), { shape: [1, 1, 64], defaulted: ["dim 1 'length' = 1 (open dimension)"] });
  });

  it('--shape wins, but the batch sweep still sets dimension 0; conflicts with fixed dimensions are usage errors', () => {
    assert.deepEqual(resolveInputShape(image, [1, 3, 48, 320], undefined), { shape: [1, 3, 48, 320], defaulted: [] });
    assert.deepEqual(resolveInputShape(image, [1, 3, 48, 320], 8).shape, [8, 3, 48, 320]);
    assert.throws(() => resolveInputShape(image, [1, 4, 48, 320], undefined), (error: unknown) => error instanceof UsageError && /fixes dimension 1 at 3/.test(error.message));
    const fixedBatch: RunnerValueInfo = { name: 'y', dtype: 'float32', shape: [1, 8] };
    assert.throws(() => resolveInputShape(fixedBatch, undefined, 8), (error: unknown) => error instanceof UsageError && /--batch-size 8: input 'y' fixes dimension 0 at 1/.test(error.message));
    assert.throws(() => resolveInputShape({ name: 'z', dtype: 'float32' }, undefined, undefined), UsageError);
  });

  it('generated inputs are seeded and shared across batch sizes: batch 4 begins with the values batch 1 had', () => {
    const [one, four] = generateInputBatches([features], { shapes: {}, batchSizes: [1, 4], sets: 2 });
    const again = generateInputBatches([features], { shapes: {}, batchSizes: [1], sets: 2 });
    assert.deepEqual(one!.sets, again[0]!.sets);
    assert.deepEqual([one!.batchSize, four!.batchSize, four!.sets.length], [1, 4, 2]);
    assert.deepEqual(four!.sets[0]!.features!.shape, [4, 8]);
    assert.deepEqual(Array.from(four!.sets[0]!.features!.data as Float32Array).slice(0, 8), Array.from(one!.sets[0]!.features!.data as Float32Array));
    assert.notDeepEqual(one!.sets[0], one!.sets[1]);
    const [ids] = generateInputBatches([tokens], { shapes: {}, sets: 1 });
    assert.ok(ids!.sets[0]!.ids!.data instanceof BigInt64Array);
  });

  it('inputs are matched by name when the names agree, else by position; a different count is an error', () => {
    const renamed: RunnerValueInfo[] = [{ name: 'input_1', dtype: 'float32', shape: ['N', 8] }];
    assert.deepEqual(matchInputs([features], [features], 'b.onnx'), { byPosition: false, sourceOf: new Map([['features', 'features']]) });
    assert.deepEqual(matchInputs([features], renamed, 'b.onnx'), { byPosition: true, sourceOf: new Map([['input_1', 'features']]) });
    assert.throws(() => matchInputs([features], [features, tokens], 'b.onnx'), (error: unknown) => error instanceof ModelpressError && /b\.onnx has 2 inputs/.test(error.message));
    const [batch] = generateInputBatches([features], { shapes: {}, sets: 1 });
    assert.deepEqual(Object.keys(inputSetFor(batch!.sets[0]!, renamed, new Map([['input_1', 'features']]), 'b.onnx')), ['input_1']);
    const narrow: RunnerValueInfo[] = [{ name: 'input_1', dtype: 'float32', shape: ['N', 16] }];
    assert.throws(() => inputSetFor(batch!.sets[0]!, narrow, new Map([['input_1', 'features']]), 'b.onnx'), /input 'input_1' \(fed from 'features'\) is \[N, 16\], the benchmark feeds \[1, 8\]/);
  });

  it('shapeFits: same rank, fixed dimensions equal, open ones anything', () => {
    assert.equal(shapeFits(['N', 8], [5, 8]), true);
    assert.equal(shapeFits(['N', 8], [5, 9]), false);
    assert.equal(shapeFits(['N', 8], [5, 8, 1]), false);
    assert.equal(shapeFits(undefined, [1]), true);
  });
});
