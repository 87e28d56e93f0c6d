import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FormatError, messageOf, ModelpressError } from '../errors.js';
import { resolveInsideFolder } from '../io/path-inside-folder.js';
import { readGroupBytes, type TfjsShardFile } from './group-byte-stream.js';
import { parseTfjsModelJson, type TfjsModelJson, type TfjsModelKind, type TfjsWeightSpec } from './model-json.js';
import { fixedByteLength, stringByteLength, type TfjsWeight } from './weight-layout.js';

/**
 * A TF.js model opened lazily: model.json is parsed and every shard checked (present, inside the model's
 * folder, long enough), but no weight is read until asked for, so a pass can handle one tensor at a time.
 */
export interface TfjsModel {
  modelJsonPath: string;
  kind: TfjsModelKind;
  /** model.json as parsed, every field kept. */
  json: TfjsModelJson;
  /** In manifest order: group by group, each group's weights in order. */
  weights: TfjsWeight[];
  shards: TfjsShardFile[];
}

/** One weight with its stored bytes: what streamTfjsWeights yields and saveTfjsModel consumes. */
export interface TfjsWeightEntry {
  spec: TfjsWeightSpec;
  /** Bytes as stored on disk (quantized codes stay quantized). */
  bytes: Uint8Array;
  /** Index of the manifest group the weight belongs to; 0 when absent. */
  manifestGroup?: number;
}

export async function loadTfjsModel(modelJsonPath: string): Promise<TfjsModel> {
  let text: string;
  try {
    text = await fs.readFile(modelJsonPath, 'utf8');
  } catch (error) {
    throw new ModelpressError(`${modelJsonPath}: cannot read the model (${messageOf(error)})`, { cause: error });
  }
  const { json, kind } = parseTfjsModelJson(text, modelJsonPath);
  const folder = path.dirname(path.resolve(modelJsonPath));
  const shards: TfjsShardFile[] = [];
  const weights: TfjsWeight[] = [];
  const manifest = json.weightsManifest ?? [];
  for (const [manifestGroup, group] of manifest.entries()) {
    const groupShards = await openGroupShards(modelJsonPath, folder, manifestGroup, group.paths);
    shards.push(...groupShards);
    const available = groupShards.reduce((total, shard) => total + shard.bytes, 0);
    let groupOffset = 0;
    for (const spec of group.weights) {
      const byteLength =
        fixedByteLength(spec) ??
        (await stringByteLength(spec, (offset, length) => {
          checkGroupLength(modelJsonPath, manifestGroup, groupShards, groupOffset + offset + length, available);
          return readGroupBytes(groupShards, groupOffset + offset, length);
        }));
      weights.push({ spec, manifestGroup, groupOffset, byteLength });
      groupOffset += byteLength;
    }
    checkGroupLength(modelJsonPath, manifestGroup, groupShards, groupOffset, available);
  }
  return { modelJsonPath, kind, json, weights, shards };
}

/** Every file the model consists of: model.json first, then its shards (the inputs a save must not overwrite). */
export function tfjsModelFiles(model: TfjsModel): string[] {
  return [model.modelJsonPath, ...model.shards.map((shard) => shard.file)];
}

export async function readTfjsWeightBytes(model: TfjsModel, weight: TfjsWeight): Promise<Uint8Array> {
  const groupShards = model.shards.filter((shard) => shard.manifestGroup === weight.manifestGroup);
  try {
    return await readGroupBytes(groupShards, weight.groupOffset, weight.byteLength);
  } catch (error) {
    throw new FormatError(`${model.modelJsonPath}: cannot read weight "${weight.spec.name}": ${messageOf(error)}`, { cause: error });
  }
}

/** The model's weights in manifest order, read one at a time. */
export async function* streamTfjsWeights(model: TfjsModel): AsyncGenerator<TfjsWeightEntry> {
  for (const weight of model.weights) {
    yield { spec: weight.spec, bytes: await readTfjsWeightBytes(model, weight), manifestGroup: weight.manifestGroup };
  }
}

async function openGroupShards(modelJsonPath: string, folder: string, manifestGroup: number, paths: string[]): Promise<TfjsShardFile[]> {
  const shards: TfjsShardFile[] = [];
  let groupOffset = 0;
  for (const shardPath of paths) {
    const file = shardFileInside(modelJsonPath, folder, shardPath);
    let bytes: number;
    try {
      const stat = await fs.stat(file);
      if (!stat.isFile()) throw new Error('not a regular file');
      bytes = stat.size;
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${messageOf(error)})`;
      throw new FormatError(`${modelJsonPath}: weight shard "${shardPath}" ${reason} (expected at ${file})`, { cause: error });
    }
    shards.push({ manifestGroup, path: shardPath, file, bytes, groupOffset });
    groupOffset += bytes;
  }
  return shards;
}

/**
 * Shard paths are relative to model.json's folder. One that is absolute or leaves it (`..`, a symlink) would make
 * modelpress read (and a later save overwrite beside) files that are not part of the model, so refuse it.
 */
function shardFileInside(modelJsonPath: string, folder: string, shardPath: string): string {
  const file = resolveInsideFolder(folder, shardPath);
  if (file === undefined) {
    throw new FormatError(`${modelJsonPath}: weight shard path "${shardPath}" leaves the model's folder; shard paths must be relative names inside it`);
  }
  return file;
}

function checkGroupLength(modelJsonPath: string, manifestGroup: number, groupShards: TfjsShardFile[], needed: number, available: number): void {
  if (needed <= available) return;
  const files = groupShards.map((shard) => `${shard.path} (${shard.bytes} bytes)`).join(', ') || 'no shard files';
  throw new FormatError(
    `${modelJsonPath}: weight shards of group ${manifestGroup + 1} hold ${available} bytes but the manifest's weights need ${needed}: a shard is truncated or missing from "paths" [${files}]`,
  );
}
