import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { makeNode } from '../src/onnx/builders.js';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { decodeModelProto, decodeTensorProto, encodeModelProto, encodeTensorProto } from '../src/onnx/onnx-proto.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { buildMlp } from '../fixtures/onnx/build-onnx-fixtures.js';
import { ONNX_SAMPLES, runOnnx } from './support/onnx-samples.js';

/** A length-delimited wire record for field `id` (tag + length + payload). */
function lengthDelimited(id: number, payload: Uint8Array): Uint8Array {
  assert.ok(id < 16 && payload.length < 128, 'test helper handles one-byte tags and lengths only');
  return Uint8Array.from([(id << 3) | 2, payload.length, ...payload]);
}

describe('ONNX protobuf codec', () => {
  it('keeps fields the schema does not know, at every level, through decode + encode', () => {
    const model = buildMlp();
    const unknownModelField = Uint8Array.from([0xf8, 0x3e, 0x2a]); // field 999, varint 42
    const unknownNodeField = lengthDelimited(15, new TextEncoder().encode('future-node-field'));
    const bytes = encodeModelProto(model);
    const withUnknown = decodeModelProto(bytes);
    withUnknown.$unknown = [unknownModelField];
    withUnknown.graph!.node![0]!.$unknown = [unknownNodeField];
    const encoded = encodeModelProto(withUnknown);

    const decoded = decodeModelProto(encoded);
    assert.deepStrictEqual([...decoded.$unknown![0]!], [...unknownModelField]);
    assert.deepStrictEqual([...decoded.graph!.node![0]!.$unknown![0]!], [...unknownNodeField]);
    assert.deepStrictEqual(encodeModelProto(decoded), encoded, 'a second round trip is byte-identical');
    assert.equal(decoded.graph!.node![1]!.$unknown, undefined);
  });

  it('a model file with unknown fields keeps them through load + save and still runs in onnxruntime', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-unknown-'));
    try {
      const proto = decodeModelProto(encodeModelProto(buildMlp()));
      proto.$unknown = [lengthDelimited(15, Uint8Array.from([1, 2, 3]))];
      proto.graph!.initializer![0]!.$unknown = [Uint8Array.from([0xa8, 0x01, 0x07])]; // field 21, varint 7
      const input = path.join(dir, 'in.onnx');
      await fs.writeFile(input, encodeModelProto(proto));
      const output = path.join(dir, 'out.onnx');
      await saveOnnxModel(await loadOnnxModel(input), output);
      const saved = decodeModelProto(await fs.readFile(output));
      assert.deepStrictEqual([...saved.$unknown![0]!], [(15 << 3) | 2, 3, 1, 2, 3]);
      assert.deepStrictEqual([...saved.graph!.initializer![0]!.$unknown![0]!], [0xa8, 0x01, 0x07]);
      const feeds = ONNX_SAMPLES['mlp.onnx']!;
      const expected = await runOnnx(input, feeds());
      const actual = await runOnnx(output, feeds());
      assert.ok(actual.probabilities!.equals(expected.probabilities!));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('64-bit integers survive exactly, INT64_MAX and negatives included', () => {
    const model = buildMlp();
    const extremes = [9223372036854775807n, -9223372036854775808n, -1, 0, 2 ** 53 - 1];
    model.graph!.node!.push(makeNode('Slice', ['a', 'b'], ['c'], { ends: { ints: extremes }, axis: { int: -9223372036854775807n } }));
    const decoded = decodeModelProto(encodeModelProto(model));
    const slice = decoded.graph!.node!.at(-1)!;
    assert.deepStrictEqual(slice.attribute![0]!.ints, extremes);
    assert.equal(slice.attribute![1]!.i, -9223372036854775807n);
  });

  it('reads repeated numbers both packed and unpacked (proto2 writers emit dims unpacked)', () => {
    // TensorProto: dims=2 (unpacked, field 1 varint), dims=3, data_type=1, float_data packed [1.5, -2]
    const floats = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const bytes = Uint8Array.from([0x08, 2, 0x08, 3, 0x10, 1, 0x22, 8, ...floats]);
    const tensor = decodeTensorProto(bytes);
    assert.deepStrictEqual(tensor.dims, [2, 3]);
    assert.deepStrictEqual(tensor.float_data, [1.5, -2]);
    // The same values with dims packed decode the same.
    const packedDims = Uint8Array.from([0x0a, 2, 2, 3, 0x10, 1, 0x22, 8, ...floats]);
    assert.deepStrictEqual(decodeTensorProto(packedDims).dims, [2, 3]);
    // Written back as onnx.proto declares: dims unpacked, float_data packed.
    assert.deepStrictEqual([...encodeTensorProto(tensor)], [...bytes]);
  });

  it('rejects truncated and malformed bytes with an error instead of a partial model', () => {
    const bytes = encodeModelProto(buildMlp());
    assert.throws(() => decodeModelProto(bytes.subarray(0, Math.floor(bytes.length / 2))));
    assert.throws(() => decodeModelProto(Uint8Array.from([0x07, 0x01]))); // wire type 7 does not exist
    assert.throws(() => decodeModelProto(Uint8Array.from([0x00]))); // field number 0
  });
});
