import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { FormatError } from '../src/errors.js';
import { decodeTfjsWeight } from '../src/tfjs/decode-weight.js';
import { floatToHalfBits, halfBitsToFloat } from '../src/numeric/float16.js';
import { parseTfjsModelJson, type TfjsWeightSpec } from '../src/tfjs/model-json.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** What tfjs itself makes of the bytes: the reference modelpress must match. */
async function tfjsDecoded(spec: TfjsWeightSpec, bytes: Uint8Array): Promise<ArrayLike<number>> {
  const copy = bytes.slice().buffer;
  const tensors = tf.io.decodeWeights(copy, [spec as tf.io.WeightsManifestEntry]);
  const values = await tensors[spec.name]!.data();
  tf.dispose(Object.values(tensors));
  return values as ArrayLike<number>;
}

/** Bit patterns, read without passing through JS numbers (which may quiet a signalling NaN). */
function float32Bits(values: ArrayLike<number>): number[] {
  const floats = values instanceof Float32Array ? values : Float32Array.from(values);
  return Array.from(new Uint32Array(floats.buffer, floats.byteOffset, floats.length));
}

/** Little-endian bytes written one by one, so the test does not lean on the host's typed arrays. */
function littleEndianUint16(codes: number[]): Uint8Array {
  return Uint8Array.from(codes.flatMap((code) => [code & 0xff, code >> 8]));
}

describe('float16 (IEEE half) decoding', () => {
  test('known bit patterns decode to their exact values', () => {
    const cases: Array<[number, number]> = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0400, 2 ** -14],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [bits, value] of cases) assert.equal(halfBitsToFloat(bits), value, `half 0x${bits.toString(16)}`);
    assert.ok(Object.is(halfBitsToFloat(0x8000), -0));
    assert.ok(Number.isNaN(halfBitsToFloat(0x7e00)));
  });

  test('all 65536 halves decode bit-identically to tfjs decodeWeights', async () => {
    const codes = Array.from({ length: 65536 }, (_, code) => code);
    const spec: TfjsWeightSpec = { name: 'all_halves', shape: [65536], dtype: 'float32', quantization: { dtype: 'float16' } };
    const bytes = littleEndianUint16(codes);
    const ours = decodeTfjsWeight(spec, bytes) as Float32Array;
    assert.deepEqual(float32Bits(ours), float32Bits(await tfjsDecoded(spec, bytes)));
  });

  test('encoding rounds to nearest, ties to even, and inverts decoding', () => {
    assert.equal(floatToHalfBits(1 + 2 ** -11), 0x3c00, 'tie between 1 and next half goes to even 1');
    assert.equal(floatToHalfBits(1 + 3 * 2 ** -11), 0x3c02, 'tie between odd and even goes up to even');
    assert.equal(floatToHalfBits(65519), 0x7bff);
    assert.equal(floatToHalfBits(65520), 0x7c00, 'halfway to 2^16 overflows to infinity');
    assert.equal(floatToHalfBits(2 ** -25), 0x0000, 'half of the smallest subnormal ties to zero');
    assert.equal(floatToHalfBits(1.5 * 2 ** -25), 0x0001);
    assert.equal(floatToHalfBits(-0), 0x8000);
    assert.equal(floatToHalfBits(Number.NaN) & 0x7c00, 0x7c00);
    assert.notEqual(floatToHalfBits(Number.NaN) & 0x3ff, 0);
    for (let bits = 0; bits < 65536; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0) continue;
      assert.equal(floatToHalfBits(halfBitsToFloat(bits)), bits, `half 0x${bits.toString(16)}`);
    }
  });
});

describe('affine uint8/uint16 decoding', () => {
  test('uint8 codes decode to float32(code * scale + min), as tfjs does', async () => {
    const min = -1.2345678;
    const scale = 0.0123456789;
    const codes = [0, 1, 2, 127, 128, 254, 255];
    const spec: TfjsWeightSpec = { name: 'w', shape: [7], dtype: 'float32', quantization: { dtype: 'uint8', min, scale } };
    const bytes = Uint8Array.from(codes);
    const ours = decodeTfjsWeight(spec, bytes) as Float32Array;
    assert.deepEqual(Array.from(ours), codes.map((code) => Math.fround(code * scale + min)));
    assert.deepEqual(float32Bits(ours), float32Bits(await tfjsDecoded(spec, bytes)));
  });

  test('uint16 codes are little endian and decode to float32(code * scale + min)', async () => {
    const min = -0.75;
    const scale = 1.5 / 65535;
    const codes = [0, 1, 255, 256, 32768, 65534, 65535];
    const spec: TfjsWeightSpec = { name: 'w', shape: [7], dtype: 'float32', quantization: { dtype: 'uint16', min, scale } };
    const bytes = littleEndianUint16(codes);
    const ours = decodeTfjsWeight(spec, bytes) as Float32Array;
    assert.deepEqual(Array.from(ours), codes.map((code) => Math.fround(code * scale + min)));
    assert.deepEqual(float32Bits(ours), float32Bits(await tfjsDecoded(spec, bytes)));
  });

  test('quantized int32 weights round to the nearest integer', async () => {
    const spec: TfjsWeightSpec = { name: 'ids', shape: [5], dtype: 'int32', quantization: { dtype: 'uint8', min: -3, scale: 0.5 } };
    const bytes = Uint8Array.from([0, 1, 2, 3, 13]);
    const ours = decodeTfjsWeight(spec, bytes) as Int32Array;
    assert.ok(ours instanceof Int32Array);
    assert.deepEqual(Array.from(ours), [-3, -2, -2, -1, 4]);
    assert.deepEqual(Array.from(ours), Array.from(await tfjsDecoded(spec, bytes)));
  });
});

describe('unquantized dtypes', () => {
  test('float32, int32 and bool read as tfjs reads them, from unaligned bytes too', async () => {
    const floats = Float32Array.from([1.5, -2.25, 3e-8, 1e30]);
    const ints = Int32Array.from([-2147483648, -1, 0, 2147483647]);
    const cases: Array<[TfjsWeightSpec, Uint8Array, number[]]> = [
      [{ name: 'f', shape: [2, 2], dtype: 'float32' }, new Uint8Array(floats.buffer), Array.from(floats)],
      [{ name: 'i', shape: [4], dtype: 'int32' }, new Uint8Array(ints.buffer), Array.from(ints)],
      [{ name: 'b', shape: [3], dtype: 'bool' }, Uint8Array.from([1, 0, 1]), [1, 0, 1]],
    ];
    for (const [spec, bytes, expected] of cases) {
      const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
      unaligned.set(bytes);
      assert.deepEqual(Array.from(decodeTfjsWeight(spec, unaligned) as ArrayLike<number>), expected, spec.dtype);
      assert.deepEqual(Array.from(await tfjsDecoded(spec, bytes)), expected, `tfjs ${spec.dtype}`);
    }
  });

  test('string weights split at their little-endian length prefixes', () => {
    const words = ['', 'ab', 'héllo'].map((word) => Buffer.from(word, 'utf8'));
    const bytes = Buffer.concat(words.flatMap((word) => [Buffer.from([word.length, 0, 0, 0]), word]));
    const ours = decodeTfjsWeight({ name: 's', shape: [3], dtype: 'string' }, new Uint8Array(bytes)) as Uint8Array[];
    assert.deepEqual(ours.map((element) => Buffer.from(element).toString('utf8')), ['', 'ab', 'héllo']);
  });

  test('raw uint8 weights stay uint8', () => {
    const ours = decodeTfjsWeight({ name: 'u', shape: [3], dtype: 'uint8' }, Uint8Array.from([0, 7, 255]));
    assert.ok(ours instanceof Uint8Array);
    assert.deepEqual(Array.from(ours), [0, 7, 255]);
  });
});

describe('inconsistent specs are refused', () => {
  test('bytes that do not match the spec are a FormatError naming the weight', () => {
    assert.throws(
      () => decodeTfjsWeight({ name: 'dense/kernel', shape: [2, 2], dtype: 'float32' }, new Uint8Array(15)),
      (error: unknown) => error instanceof FormatError && /"dense\/kernel".*15 bytes.*needs 16/.test(error.message),
    );
  });

  test('a manifest with float16 quantization of an int32 weight or affine without scale is rejected', () => {
    const manifest = (quantization: object, dtype = 'float32'): string =>
      JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths: [], weights: [{ name: 'w', shape: [1], dtype, quantization }] }] });
    assert.throws(() => parseTfjsModelJson(manifest({ dtype: 'float16' }, 'int32'), 'm.json'), /m\.json.*"w".*float16 quantization is not defined for int32/);
    assert.throws(() => parseTfjsModelJson(manifest({ dtype: 'uint8', min: 0 }), 'm.json'), /m\.json.*"w".*needs numeric "min" and "scale"/);
    assert.throws(() => parseTfjsModelJson(manifest({ dtype: 'int4' }), 'm.json'), /m\.json.*"w".*unsupported quantization/);
  });
});
