import { promises as fs } from 'node:fs';
import path from 'node:path';
import { messageOf, ModelpressError, UsageError } from '../errors.js';
import { checkOutputPaths, writeAtomically } from '../io/atomic-write.js';
import type { TfjsWeightEntry } from './load-tfjs-model.js';
import type { TfjsManifestGroup, TfjsModelJson, TfjsWeightSpec } from './model-json.js';
import { GroupShardWriter } from './shard-writer.js';
import { checkWeightBytes } from './weight-layout.js';

/** tfjs-converter's default shard size: 4 MiB, the largest file all major browsers cache. */
export const TFJS_CONVERTER_SHARD_BYTES = 4 * 1024 * 1024;

export interface SaveTfjsModelOptions {
  /** Bytes per shard file; default TFJS_CONVERTER_SHARD_BYTES. */
  shardBytes?: number;
  /** Replace existing output files. */
  force?: boolean;
  /** Files that must not be overwritten, usually the model being rewritten (see tfjsModelFiles). */
  inputPaths?: string[];
}

export interface SavedTfjsModel {
  modelJsonPath: string;
  /** Shard files written, in manifest order. */
  shardFiles: string[];
  weightsManifest: TfjsManifestGroup[];
}

/** tfjs-converter's shard names (write_weights.py); group and shard numbers count from 1. */
export function shardFileName(groupIndex: number, shardIndex: number, shardCount: number): string {
  return `group${groupIndex + 1}-shard${shardIndex + 1}of${shardCount}.bin`;
}

/**
 * Write `modelJson` with the weights of `weights` to `modelJsonPath` and shard files beside it. Weights
 * are consumed one at a time, in order, and their bytes written as given (quantized codes stay as they
 * are); the manifest lists them in arrival order, one group per distinct `manifestGroup`, which must not
 * decrease. Every field of `modelJson` other than `weightsManifest` is written unchanged. All files appear
 * together or not at all.
 */
export async function saveTfjsModel(
  modelJsonPath: string,
  modelJson: TfjsModelJson,
  weights: AsyncIterable<TfjsWeightEntry> | Iterable<TfjsWeightEntry>,
  options: SaveTfjsModelOptions = {},
): Promise<SavedTfjsModel> {
  const shardBytes = options.shardBytes ?? TFJS_CONVERTER_SHARD_BYTES;
  if (!Number.isSafeInteger(shardBytes) || shardBytes <= 0) {
    throw new UsageError(`shard size must be a positive whole number of bytes, got ${shardBytes}`);
  }
  const inputs = options.inputPaths ?? [];
  const force = options.force ?? false;
  checkOutputPaths([modelJsonPath], inputs, force);
  const folder = path.dirname(path.resolve(modelJsonPath));
  await fs.mkdir(folder, { recursive: true });

  return writeAtomically(async (transaction) => {
    // Staged first so that the transaction renames it last, after the shards it lists.
    const modelJsonTemporary = transaction.stage(modelJsonPath);
    const groups: Array<{ manifestGroup: number; specs: TfjsWeightSpec[]; writer: GroupShardWriter }> = [];
    try {
      for await (const { spec, bytes, manifestGroup = 0 } of weights) {
        let group = groups.at(-1);
        if (group === undefined || manifestGroup > group.manifestGroup) {
          const label = `${path.basename(modelJsonPath)}.group${groups.length + 1}`;
          group = { manifestGroup, specs: [], writer: new GroupShardWriter(folder, shardBytes, label) };
          groups.push(group);
        } else if (manifestGroup < group.manifestGroup) {
          throw new ModelpressError(
            `${modelJsonPath}: weight "${spec.name}" of manifest group ${manifestGroup + 1} came after group ${group.manifestGroup + 1}; weights must come group by group`,
          );
        }
        try {
          checkWeightBytes(spec, bytes);
        } catch (error) {
          throw new ModelpressError(`${modelJsonPath}: cannot save ${messageOf(error)}`, { cause: error });
        }
        group.specs.push(spec);
        await group.writer.write(bytes);
      }

      const weightsManifest: TfjsManifestGroup[] = [];
      const shards: Array<{ temporary: string; final: string }> = [];
      for (const [groupIndex, group] of groups.entries()) {
        const temporaries = await group.writer.finish();
        const paths = temporaries.map((_, shardIndex) => shardFileName(groupIndex, shardIndex, temporaries.length));
        weightsManifest.push({ paths, weights: group.specs });
        temporaries.forEach((temporary, shardIndex) => shards.push({ temporary, final: path.join(folder, paths[shardIndex]!) }));
      }
      const shardFiles = shards.map((shard) => shard.final);
      checkOutputPaths(shardFiles, inputs, force);
      for (const shard of shards) await fs.rename(shard.temporary, transaction.stage(shard.final));
      await fs.writeFile(modelJsonTemporary, JSON.stringify(withWeightsManifest(modelJson, weightsManifest)));
      return { modelJsonPath, shardFiles, weightsManifest };
    } finally {
      await Promise.all(groups.map((group) => group.writer.discard()));
    }
  });
}

/** `modelJson` with its manifest replaced where it stood, so the written key order matches the input's. */
function withWeightsManifest(modelJson: TfjsModelJson, weightsManifest: TfjsManifestGroup[]): TfjsModelJson {
  if (!('weightsManifest' in modelJson)) {
    return weightsManifest.length === 0 ? modelJson : { ...modelJson, weightsManifest };
  }
  return Object.fromEntries(
    Object.entries(modelJson).map(([field, value]) => [field, field === 'weightsManifest' ? weightsManifest : value]),
  ) as TfjsModelJson;
}
