import type { TensorEngine } from '../engine/tensor-engine.js';
import type { ModelFormatName } from '../inspect/model-description.js';
import type { HostArray } from './host-array.js';

/**
 * One interface over every runtime that runs a model (onnxruntime-node, tfjs), so that benchmark and
 * verification treat them alike; each runtime implements it in one file, registered in runner-table.ts.
 *
 * The split into prepare / run / read keeps a measurement honest: inputs are converted into the runtime's
 * own tensors once, before timing; `run` is the one call timed (an inference whose outputs are back in host
 * memory); outputs are converted for comparison afterwards.
 */
export interface ModelRunner<Prepared = unknown, Result = unknown> {
  readonly modelPath: string;
  /** The runtime's name as results report it. */
  readonly runtime: RuntimeName;
  readonly format: ModelFormatName;
  readonly inputs: RunnerValueInfo[];
  readonly outputs: RunnerValueInfo[];
  /** Settings the runner runs with (provider, threads, tfjs backend ...), for the result's environment. */
  readonly settings: Record<string, string | number | boolean | null>;
  /** `feeds` by this model's input names, converted to the types the model declares. */
  prepare(feeds: Record<string, HostArray>): Promise<Prepared>;
  /** One inference. Several may be in flight at once (--concurrency) where the runtime allows it. */
  run(prepared: Prepared): Promise<Result>;
  /** A run's outputs as host arrays, by output name. */
  read(result: Result): Record<string, HostArray>;
  /** Free what prepare made. */
  release(prepared: Prepared): void;
  dispose(): Promise<void>;
}

export type RuntimeName = 'onnxruntime' | 'tfjs';

/** An input or output as the runtime declares it; open dimensions are their symbolic names or null. */
export interface RunnerValueInfo {
  name: string;
  /** Element type in onnxruntime/tfjs spelling (float32, int64, bool ...); undefined when not declared. */
  dtype?: string;
  /** undefined when the rank is unknown. */
  shape?: Array<number | string | null>;
}

export type OnnxProviderName = 'cpu' | 'cuda' | 'tensorrt';
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** How to open a runner: what the command line says about runtimes. */
export interface RunnerOptions {
  /** onnxruntime execution provider. */
  provider: OnnxProviderName;
  /** onnxruntime intra-op threads; undefined: onnxruntime's default (one per physical core). */
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimization?: GraphOptimizationLevel;
  /** onnxruntime CUDA-graph capture (CUDA provider only). */
  cudaGraph: boolean;
  /** The tfjs namespace TF.js models run on (the active tensor engine), loaded on first use. */
  engine(): Promise<TensorEngine>;
}
