import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_EXPORT_OPTIONS, UnsupportedFeaturesError } from '../src/export/export-contract.js';
import { convertGraphModel } from '../src/export/graph/convert-graph-model.js';
import { loadTfjsModel } from '../src/tfjs/load-tfjs-model.js';
import { assertExportMatches, randomFeed, type Feed } from './support/graph-model-check.js';
import { nodeModules } from './support/repo-paths.js';

/**
 * Real tfjs-converter GraphModels: the devDependency @vladmandic/human ships eleven as plain model.json + .bin
 * (MIT, no dependencies, no install scripts).
 */
const humanModels = path.join(nodeModules, '@vladmandic', 'human', 'models');

/** Random inputs in [0, 1) (images) or [0, 255] (int32 images) in each Placeholder's shape, open sizes 1. */
function feedsFor(modelJsonPath: string): Record<string, Feed> {
  const json = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as { modelTopology: { node: Array<{ name: string; op: string; attr?: Record<string, any> }> } };
  const feeds: Record<string, Feed> = {};
  for (const [index, node] of json.modelTopology.node.filter((candidate) => candidate.op === 'Placeholder').entries()) {
    const shape = (node.attr?.shape?.shape?.dim ?? []).map((dim: { size?: string }) => Math.max(1, Number(dim.size ?? 0)));
    const feed = randomFeed(shape, 100 + index, 0, 1);
    feeds[node.name] = node.attr?.dtype?.type === 'DT_INT32' ? { values: Int32Array.from(feed.values, (value) => Math.floor(value * 256)), shape, dtype: 'int32' } : feed;
  }
  return feeds;
}

describe('real GraphModels from @vladmandic/human export and match tfjs', () => {
  // blazeface: Pad + depthwise; facemesh and iris: Prelu; emotion: Mean; movenet: ResizeBilinear, ArgMax,
  // GatherNd, Unpack, FloorDiv, int32 input.
  for (const name of ['blazeface', 'facemesh', 'iris', 'emotion', 'movenet-lightning']) {
    test(name, async () => {
      const modelJsonPath = path.join(humanModels, `${name}.json`);
      await assertExportMatches(modelJsonPath, feedsFor(modelJsonPath));
    });
  }

  test('handtrack (a TF1 while loop) is refused with every unsupported op named', async () => {
    const modelJsonPath = path.join(humanModels, 'handtrack.json');
    await assert.rejects(convertGraphModel(await loadTfjsModel(modelJsonPath), DEFAULT_EXPORT_OPTIONS), (error: unknown) => {
      assert.ok(error instanceof UnsupportedFeaturesError);
      const ops = new Set(error.features.map((feature) => feature.name));
      for (const op of ['Enter', 'Exit', 'Merge', 'Switch', 'NextIteration', 'LoopCond', 'TensorListReserve']) assert.ok(ops.has(op), `${op} is reported`);
      return true;
    });
  });
});
