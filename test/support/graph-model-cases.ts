import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExportOptions } from '../../src/export/export-contract.js';
import { SeededRandom } from '../../src/numeric/seeded-random.js';
import { GraphModelBuilder } from './graph-model-builder.js';
import { assertExportMatches, type BothRuns, type Feed } from './graph-model-check.js';

/** One small graph per test case, written to a scratch folder, exported and compared with tfjs. */
export class GraphCaseRunner {
  private folder?: string;
  private count = 0;

  async start(label: string): Promise<void> {
    this.folder = await fs.mkdtemp(path.join(os.tmpdir(), `modelpress-${label}-`));
  }

  async finish(): Promise<void> {
    if (this.folder) await fs.rm(this.folder, { recursive: true, force: true });
  }

  async save(build: (graph: GraphModelBuilder) => void): Promise<string> {
    const graph = new GraphModelBuilder();
    build(graph);
    return this.saveGraph(graph);
  }

  async saveGraph(graph: GraphModelBuilder): Promise<string> {
    return graph.save(path.join(this.folder!, `case-${++this.count}`));
  }

  async checkGraph(graph: GraphModelBuilder, feeds: Record<string, Feed>, options: Partial<ExportOptions> = {}): Promise<BothRuns> {
    return assertExportMatches(await this.saveGraph(graph), feeds, options);
  }

  async check(build: (graph: GraphModelBuilder) => void, feeds: Record<string, Feed>, options: Partial<ExportOptions> = {}): Promise<BothRuns> {
    return assertExportMatches(await this.save(build), feeds, options);
  }
}

export function seededValues(seed: number, count: number, low = -1, high = 1): Float32Array {
  return new SeededRandom(seed).uniforms(count, low, high);
}

export function count(shape: number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}
