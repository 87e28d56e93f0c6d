import { promises as fs } from 'node:fs';
import { FormatError } from '../errors.js';

/**
 * tfjs-converter concatenates the bytes of all weights of a manifest group and cuts that stream into
 * shards at fixed sizes, regardless of where weights begin or end. So a weight is addressed by its offset
 * in the group's stream, and reading it may touch several shard files.
 */
export interface TfjsShardFile {
  /** Index of the group in `weightsManifest`. */
  manifestGroup: number;
  /** The path as listed in the manifest, relative to the model's folder. */
  path: string;
  /** Where the file is on disk. */
  file: string;
  /** Size of the file on disk. */
  bytes: number;
  /** Where this shard's first byte lies in the group's stream. */
  groupOffset: number;
}

/** Read `length` bytes starting at `offset` of the stream formed by `groupShards` (one group, in order). */
export async function readGroupBytes(groupShards: readonly TfjsShardFile[], offset: number, length: number): Promise<Uint8Array> {
  const end = offset + length;
  const available = groupShards.reduce((total, shard) => total + shard.bytes, 0);
  if (end > available) {
    throw new FormatError(`weight shards ${groupShards.map((shard) => shard.file).join(', ')} end at byte ${available}, reading up to byte ${end}`);
  }
  const result = new Uint8Array(length);
  for (const shard of groupShards) {
    const shardEnd = shard.groupOffset + shard.bytes;
    if (shardEnd <= offset || shard.groupOffset >= end) continue;
    const from = Math.max(offset, shard.groupOffset);
    const to = Math.min(end, shardEnd);
    await readFileRange(shard, from - shard.groupOffset, result, from - offset, to - from);
  }
  return result;
}

async function readFileRange(shard: TfjsShardFile, position: number, target: Uint8Array, targetOffset: number, length: number): Promise<void> {
  const handle = await fs.open(shard.file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(target, targetOffset + done, length - done, position + done);
      if (bytesRead === 0) {
        throw new FormatError(`${shard.file}: weight shard ends at byte ${position + done}, expected at least ${position + length} bytes (was it truncated while reading?)`);
      }
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
