import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { externalDataReference, isExternal, resolveExternalDataPath } from '../src/onnx/external-data.js';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { tensorByteLength } from '../src/onnx/tensor-data.js';
import type { GeneratedTensor } from './generate-large-model.js';

/**
 * Check a saved copy of the generated model: it loads again with the library's loader, and every weight's
 * external range hashes to what the generator wrote. Ranges are hashed as they are read, a chunk at a time.
 */

const HASH_CHUNK_BYTES = 4 * 1024 * 1024;

async function hashFileRange(file: string, offset: number, length: number, chunk: Buffer): Promise<string> {
  const hash = createHash('sha256');
  const input = await fs.open(file, 'r');
  try {
    for (let done = 0; done < length; ) {
      const { bytesRead } = await input.read(chunk, 0, Math.min(chunk.length, length - done), offset + done);
      if (bytesRead === 0) throw new Error(`${file} ends at ${offset + done}, before the end of range ${offset}+${length}`);
      hash.update(chunk.subarray(0, bytesRead));
      done += bytesRead;
    }
  } finally {
    await input.close();
  }
  return hash.digest('hex');
}

/** Throws an Error naming the first tensor whose saved bytes or metadata differ from the generated ones. */
export async function verifySavedModel(savedModelPath: string, expected: GeneratedTensor[]): Promise<void> {
  const model = await loadOnnxModel(savedModelPath);
  const problem = (what: string) => new Error(`saved model ${savedModelPath}: ${what}`);
  const saved = new Map((model.proto.graph?.initializer ?? []).map((tensor) => [tensor.name ?? '', tensor]));
  if (saved.size !== expected.length) throw problem(`${saved.size} initializers, the source has ${expected.length}`);
  const chunk = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  for (const source of expected) {
    const tensor = saved.get(source.name);
    if (!tensor) throw problem(`tensor '${source.name}' is missing`);
    if (!isExternal(tensor)) throw problem(`tensor '${source.name}' was saved inline, expected external data`);
    if (tensorByteLength(tensor) !== source.length) {
      throw problem(`tensor '${source.name}' is ${tensorByteLength(tensor)} bytes by its shape and type, the source is ${source.length}`);
    }
    const reference = externalDataReference(tensor);
    const file = resolveExternalDataPath(model.directory, reference.location, source.name);
    const sha256 = await hashFileRange(file, reference.offset, source.length, chunk);
    if (sha256 !== source.sha256) {
      throw problem(`tensor '${source.name}' bytes differ from the source (${file} at ${reference.offset}: sha256 ${sha256}, expected ${source.sha256})`);
    }
  }
}
