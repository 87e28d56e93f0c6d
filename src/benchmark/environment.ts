import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import type { EngineInfo } from '../engine/tensor-engine.js';
import type { RunnerOptions } from '../runners/model-runner.js';
import { onnxruntimeVersion } from '../runners/onnxruntime-runner.js';

/** Where a benchmark ran, recorded with its figures so that results can be compared later. */
export interface BenchmarkEnvironment {
  cpu: { model: string; logicalCores: number; availableParallelism: number };
  totalMemoryBytes: number;
  platform: string;
  arch: string;
  osRelease: string;
  node: string;
  onnxruntime: string;
  tfjs: string | null;
  /** The tensor engine TF.js models ran on; null when no TF.js model was run. */
  engine: EngineInfo | null;
  provider: string;
  /** onnxruntime intra-op / inter-op threads as asked; null: onnxruntime's default. */
  intraOpThreads: number | null;
  interOpThreads: number | null;
  graphOptimization: string;
  cudaGraph: boolean;
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

export function captureEnvironment(runner: RunnerOptions, engine: EngineInfo | null): BenchmarkEnvironment {
  const cpus = os.cpus();
  return {
    cpu: { model: cpus[0]?.model.trim() ?? 'unknown', logicalCores: cpus.length, availableParallelism: os.availableParallelism() },
    totalMemoryBytes: os.totalmem(),
    platform: process.platform,
    arch: process.arch,
    osRelease: os.release(),
    node: process.version,
    onnxruntime: onnxruntimeVersion(),
    tfjs: packageVersion('@tensorflow/tfjs'),
    engine,
    provider: runner.provider,
    intraOpThreads: runner.intraOpThreads ?? null,
    interOpThreads: runner.interOpThreads ?? null,
    graphOptimization: runner.graphOptimization ?? 'all',
    cudaGraph: runner.cudaGraph,
  };
}
