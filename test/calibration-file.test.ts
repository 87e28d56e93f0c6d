import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { loadCalibrationSet, modelFeedInputs } from '../src/calibration/calibration-file.js';
import { loadCalibrationForModel } from '../src/calibration/load-calibration-for-model.js';
import { ModelpressError, UsageError } from '../src/errors.js';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import type { ValueInfoProto } from '../src/onnx/onnx-proto.js';
import { repoRoot } from './support/repo-paths.js';
import { samplePath } from './support/onnx-samples.js';

const numpyFixtures = path.join(repoRoot, 'fixtures', 'calibration');
let workDir: string;
before(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-calibration-file-'));
});
after(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

async function inputsOf(file: string): Promise<ValueInfoProto[]> {
  return modelFeedInputs((await loadOnnxModel(samplePath(file))).proto.graph!);
}

/** The value make-calibration-fixtures.py writes at `position` of sample `sample`. */
const ramp = (sample: number, position: number) => (sample * 1000 + position) / 64;

function assertRampSamples(samples: Array<Record<string, ort.Tensor>>, count: number, name = 'input') {
  assert.equal(samples.length, count);
  samples.forEach((sample, index) => {
    const tensor = sample[name]!;
    assert.deepEqual([tensor.type, tensor.dims], ['float32', [3, 16]]);
    assert.deepEqual(Array.from(tensor.data as Float32Array), Array.from({ length: 48 }, (_, position) => ramp(index, position)));
  });
}

/** An .npy file written by hand from the format description (version 1.0, header padded to 64 bytes). */
function npyBytes(descr: string, shape: number[], data: ArrayBufferView): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** A ZIP archive written by hand (APPNOTE 4.3): local headers, central directory, end record. */
function zipBytes(entries: Array<{ name: string; data: Buffer; deflate?: boolean }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const stored = entry.deflate ? zlib.deflateRawSync(entry.data) : entry.data;
    const name = Buffer.from(entry.name);
    const crc = zlib.crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(entry.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(entry.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    centrals.push(central, name);
    offset += 30 + name.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

async function write(name: string, bytes: Buffer | string): Promise<string> {
  const file = path.join(workDir, name);
  await fs.writeFile(file, bytes);
  return file;
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ModelpressError, `not a ModelpressError: ${error}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), 'one line');
    return true;
  });
}

describe('calibration files written by NumPy (fixtures/calibration/make-calibration-fixtures.py)', () => {
  it('.npy with a leading sample axis: 4 samples of [3, 16]', async () => {
    const set = await loadCalibrationSet(path.join(numpyFixtures, 'mlp-samples.npy'), await inputsOf('mlp.onnx'));
    assertRampSamples(set.samples, 4);
    assert.equal(set.source, path.join(numpyFixtures, 'mlp-samples.npy'));
  });

  it('.npz from np.savez (stored, ZIP64 local headers) and np.savez_compressed (deflate)', async () => {
    for (const file of ['mlp-samples.npz', 'mlp-samples-compressed.npz']) {
      assertRampSamples((await loadCalibrationSet(path.join(numpyFixtures, file), await inputsOf('mlp.onnx'))).samples, 4);
    }
  });

  it('a positional arr_0 fits a single-input model, and float64 data becomes float32', async () => {
    assertRampSamples((await loadCalibrationSet(path.join(numpyFixtures, 'mlp-positional-float64.npz'), await inputsOf('mlp.onnx'))).samples, 2);
  });

  it('an input given without a sample axis (a bool scalar) is repeated in every sample', async () => {
    const { samples } = await loadCalibrationSet(path.join(numpyFixtures, 'if-subgraph-samples.npz'), await inputsOf('if-subgraph.onnx'));
    assert.equal(samples.length, 3);
    for (const [index, sample] of samples.entries()) {
      assert.deepEqual(Array.from(sample.x!.data as Float32Array), Array.from({ length: 8 }, (_, position) => ramp(index, position)));
      assert.deepEqual([sample.use_projection!.type, sample.use_projection!.dims, Array.from(sample.use_projection!.data as Uint8Array)], ['bool', [], [1]]);
    }
  });

  it('int64 token ids load as int64 and run through gpt-block.onnx', async () => {
    const { samples } = await loadCalibrationSet(path.join(numpyFixtures, 'gpt-block-ids.npz'), await inputsOf('gpt-block.onnx'));
    assert.equal(samples.length, 2);
    assert.deepEqual(Array.from(samples[1]!.input_ids!.data as BigInt64Array, Number), Array.from({ length: 16 }, (_, index) => ((16 + index) * 5) % 64));
    const session = await ort.InferenceSession.create(samplePath('gpt-block.onnx'));
    assert.deepEqual((await session.run(samples[0]!)).logits!.dims, [2, 8, 64]);
    await session.release();
  });

  it('loadCalibrationForModel reads the inputs from the model file; TF.js models are refused', async () => {
    assert.equal((await loadCalibrationForModel(path.join(numpyFixtures, 'mlp-samples.npy'), samplePath('mlp.onnx'))).samples.length, 4);
    await assert.rejects(loadCalibrationForModel(path.join(numpyFixtures, 'mlp-samples.npy'), path.join(repoRoot, 'fixtures', 'models', 'tfjs-layers-mlp')), UsageError);
  });
});

describe('calibration files written by hand', () => {
  it('.npy v1.0 float32 without a sample axis is one sample', async () => {
    const file = await write('one.npy', npyBytes('<f4', [2, 16], Float32Array.from({ length: 32 }, (_, index) => index / 4)));
    const { samples } = await loadCalibrationSet(file, await inputsOf('mlp.onnx'));
    assert.equal(samples.length, 1);
    assert.deepEqual(samples[0]!.input!.dims, [2, 16]);
    assert.equal((samples[0]!.input!.data as Float32Array)[31], 31 / 4);
  });

  it('.npz with one stored and one deflated entry keyed by input name', async () => {
    const file = await write(
      'two.npz',
      zipBytes([
        { name: 'x.npy', data: npyBytes('<f4', [2, 4], Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8])) },
        { name: 'use_projection.npy', data: npyBytes('|b1', [], Uint8Array.of(0)), deflate: true },
      ]),
    );
    const { samples } = await loadCalibrationSet(file, await inputsOf('if-subgraph.onnx'));
    assert.deepEqual(Array.from(samples[0]!.x!.data as Float32Array), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(Array.from(samples[0]!.use_projection!.data as Uint8Array), [0]);
  });

  it('.json: nested arrays, {dtype, shape, data}, and a top-level list of samples', async () => {
    const inputs = await inputsOf('if-subgraph.onnx');
    const nested = await write('nested.json', JSON.stringify({ x: [[1, 2, 3, 4], [5, 6, 7, 8]], use_projection: true }));
    const one = (await loadCalibrationSet(nested, inputs)).samples;
    assert.deepEqual([one.length, one[0]!.x!.dims, Array.from(one[0]!.x!.data as Float32Array)], [1, [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]]);
    const listed = await write(
      'listed.json',
      JSON.stringify([
        { x: { dtype: 'float64', shape: [1, 4], data: [0.5, 1.5, 2.5, 3.5] }, use_projection: { dtype: 'bool', shape: [], data: false } },
        { x: [[9, 9, 9, 9]], use_projection: 1 },
      ]),
    );
    const two = (await loadCalibrationSet(listed, inputs)).samples;
    assert.deepEqual(two.map((sample) => [sample.x!.type, Array.from(sample.x!.data as Float32Array), Array.from(sample.use_projection!.data as Uint8Array)]), [
      ['float32', [0.5, 1.5, 2.5, 3.5], [0]],
      ['float32', [9, 9, 9, 9], [1]],
    ]);
    const ids = await write('ids.json', JSON.stringify({ input_ids: [[1, 2, 3, 4, 5, 6, 7, 8]] }));
    assert.deepEqual(Array.from((await loadCalibrationSet(ids, await inputsOf('gpt-block.onnx'))).samples[0]!.input_ids!.data as BigInt64Array, Number), [1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('calibration files that do not fit the model: one-line errors naming the input', () => {
  it('an unknown name, a missing input', async () => {
    const inputs = await inputsOf('if-subgraph.onnx');
    await rejectsWith(loadCalibrationSet(await write('unknown.json', JSON.stringify({ x: [[1, 2, 3, 4]], use_projection: true, y: [1] })), inputs), /'y' is not an input of the model \(inputs: x, use_projection\)/);
    await rejectsWith(loadCalibrationSet(await write('missing.json', JSON.stringify({ x: [[1, 2, 3, 4]] })), inputs), /no data for model input 'use_projection'/);
  });

  it('a wrong size or rank', async () => {
    const inputs = await inputsOf('mlp.onnx');
    await rejectsWith(loadCalibrationSet(await write('width.npy', npyBytes('<f4', [2, 15], new Float32Array(30))), inputs), /input 'input'.*shape \[2, 15\] does not fit the model input \[\?, 16\]/);
    await rejectsWith(loadCalibrationSet(await write('rank.npy', npyBytes('<f4', [16], new Float32Array(16))), inputs), /input 'input'.*shape \[16\] does not fit .*rank 1/);
  });

  it('a wrong element type', async () => {
    const inputs = await inputsOf('mlp.onnx');
    await rejectsWith(loadCalibrationSet(await write('ints.npy', npyBytes('<i8', [1, 16], new BigInt64Array(16))), inputs), /input 'input'.*model input is float32, the calibration data is int64/);
    await rejectsWith(loadCalibrationSet(await write('floats.json', JSON.stringify({ input_ids: [[1.5, 2, 3, 4, 5, 6, 7, 8]] })), await inputsOf('gpt-block.onnx')), /input 'input_ids'.*1\.5 is not an integer/);
  });

  it('a .npy for a model with two inputs, sample counts that disagree', async () => {
    await rejectsWith(loadCalibrationSet(await write('multi.npy', npyBytes('<f4', [2, 4], new Float32Array(8))), await inputsOf('if-subgraph.onnx')), /a \.npy file holds one array but the model has 2 inputs/);
    const uneven = await write(
      'uneven.npz',
      zipBytes([
        { name: 'x.npy', data: npyBytes('<f4', [3, 2, 4], new Float32Array(24)) },
        { name: 'use_projection.npy', data: npyBytes('|b1', [2], Uint8Array.of(1, 0)) },
      ]),
    );
    await rejectsWith(loadCalibrationSet(uneven, await inputsOf('if-subgraph.onnx')), /input 'use_projection' lists 2 samples, another input lists 3/);
  });

  it('damaged files: bad CRC, truncated .npy, big-endian data, ragged JSON, unknown extension', async () => {
    const inputs = await inputsOf('mlp.onnx');
    const archive = zipBytes([{ name: 'input.npy', data: npyBytes('<f4', [1, 16], new Float32Array(16)) }]);
    archive[200] ^= 0xff; // inside the stored data
    await rejectsWith(loadCalibrationSet(await write('crc.npz', archive), inputs), /entry 'input\.npy' is corrupt/);
    await rejectsWith(loadCalibrationSet(await write('short.npy', npyBytes('<f4', [1, 16], new Float32Array(16)).subarray(0, 150)), inputs), /\.npy data is truncated/);
    await rejectsWith(loadCalibrationSet(await write('big.npy', npyBytes('>f4', [1, 16], new Float32Array(16))), inputs), /big-endian/);
    await rejectsWith(loadCalibrationSet(await write('ragged.json', JSON.stringify({ input: [[1, 2], [3]] })), inputs), /ragged/);
    await rejectsWith(loadCalibrationSet(await write('samples.csv', '1,2,3'), inputs), /must be \.npy, \.npz, \.json/);
    await rejectsWith(loadCalibrationSet(path.join(workDir, 'absent.npy'), inputs), /no such file/);
  });
});
