import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Chalk } from 'chalk';
import type { ModelDescription } from '../src/inspect/model-description.js';
import { formatShape, renderDescription } from '../src/inspect/render-description.js';
import { ANSI_ESCAPE } from './support/run-cli.js';

function onnxDescription(): ModelDescription {
  return {
    path: 'models/classifier.onnx',
    format: 'onnx',
    formatVersion: { irVersion: 8, opsets: { '': 17, 'com.microsoft': 1 }, producer: 'pytorch 2.1' },
    inputs: [{ name: 'pixels', dtype: 'float32', shape: ['batch', 3, 224, null] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 1000] }],
    operators: { Relu: 12, Conv: 20, Add: 12, Gemm: 1 },
    parameters: {
      count: 3_504_872,
      bytes: 14_050_000,
      byDtype: {
        int64: { tensors: 2, parameters: 4, bytes: 32 },
        float32: { tensors: 52, parameters: 3_504_868, bytes: 14_049_968 },
      },
    },
    largestTensors: [{ name: 'classifier.weight', dtype: 'float32', shape: [1000, 1280], bytes: 5_120_000 }],
    dataFiles: [{ path: 'classifier.onnx.data', bytes: 14_049_968 }],
  };
}

describe('renderDescription', () => {
  test('the whole report for a small model', () => {
    const text = renderDescription({
      path: 'tiny/model.json',
      format: 'tfjs-layers',
      formatVersion: { format: 'layers-model', generatedBy: 'keras v2.15.0' },
      inputs: [{ name: 'input_1', dtype: 'float32', shape: [null, 4] }],
      outputs: [{ name: 'dense_1', dtype: 'float32', shape: [null, 2] }],
      operators: { Dense: 2, InputLayer: 1 },
      parameters: { count: 10, bytes: 40, byDtype: { float32: { tensors: 2, parameters: 10, bytes: 40 } } },
      largestTensors: [{ name: 'dense_1/kernel', dtype: 'float32', shape: [4, 2], bytes: 32 }],
      dataFiles: [{ path: 'group1-shard1of1.bin', bytes: 40 }],
    });
    assert.equal(
      text,
      [
        'Model   tiny/model.json',
        'Format  TF.js layers model  format layers-model, generatedBy keras v2.15.0',
        '',
        'Inputs',
        '  name     dtype    shape',
        '  input_1  float32  [?, 4]',
        '',
        'Outputs',
        '  name     dtype    shape',
        '  dense_1  float32  [?, 2]',
        '',
        'Operators  3 nodes, 2 types',
        '  operator    count',
        '  Dense           2',
        '  InputLayer      1',
        '',
        'Parameters  10 in 40 B',
        '  dtype    tensors  parameters  size',
        '  float32        2          10  40 B',
        '',
        'Largest tensors',
        '  name            dtype    shape   size',
        '  dense_1/kernel  float32  [4, 2]  32 B',
        '',
        'Data files',
        '  file                  size',
        '  group1-shard1of1.bin  40 B',
        '',
      ].join('\n'),
    );
  });

  test('ONNX version line names the default opset domain ai.onnx', () => {
    const text = renderDescription(onnxDescription());
    assert.match(text, /^Format {2}ONNX {2}irVersion 8, opsets ai\.onnx 17 \+ com\.microsoft 1, producer pytorch 2\.1$/m);
  });

  test('symbolic dimensions keep their names, unknown ones are ?', () => {
    assert.match(renderDescription(onnxDescription()), /^ {2}pixels +float32 +\[batch, 3, 224, \?\]$/m);
    assert.equal(formatShape(null), 'unknown');
    assert.equal(formatShape([]), '[]');
  });

  test('operators are sorted by count, ties by name', () => {
    const text = renderDescription(onnxDescription());
    const order = ['Conv', 'Add', 'Relu', 'Gemm'].map((op) => text.search(new RegExp(`^ {2}${op} +\\d+$`, 'm')));
    assert.ok(order.every((index) => index >= 0), 'every operator listed');
    assert.deepEqual([...order].sort((a, b) => a - b), order);
    assert.match(text, /^Operators {2}45 nodes, 4 types$/m);
  });

  test('parameters and sizes in human units, dtypes by size', () => {
    const text = renderDescription(onnxDescription());
    assert.match(text, /^Parameters {2}3,504,872 in 13\.4 MiB$/m);
    assert.match(text, /^ {2}float32 +52 +3,504,868 +13\.4 MiB$/m);
    assert.ok(text.indexOf('  float32') < text.indexOf('  int64'));
    assert.match(text, /^ {2}classifier\.weight +float32 +\[1000, 1280\] +4\.9 MiB$/m);
    assert.match(text, /^ {2}classifier\.onnx\.data +13\.4 MiB$/m);
  });

  test('empty sections say so instead of printing a bare header', () => {
    const text = renderDescription({
      ...onnxDescription(),
      inputs: [],
      operators: {},
      largestTensors: [],
      dataFiles: [],
      parameters: { count: 0, bytes: 0, byDtype: {} },
    });
    assert.match(text, /^Inputs\n {2}\(none\)$/m);
    assert.match(text, /^Operators {2}0 nodes, 0 types\n {2}\(none\)$/m);
    assert.match(text, /^Data files\n {2}\(none: weights are stored in the model file\)$/m);
  });

  test('plain by default; colour only through the styles passed in', () => {
    assert.ok(!renderDescription(onnxDescription()).includes(ANSI_ESCAPE));
    assert.ok(renderDescription(onnxDescription(), new Chalk({ level: 1 })).includes(ANSI_ESCAPE));
  });
});
