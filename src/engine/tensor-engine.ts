import type * as tfjs from '@tensorflow/tfjs';

/**
 * The tfjs API. tfjs-node and tfjs-node-gpu re-export all of it, so one type covers every engine;
 * code must use the namespace the engine hands out (never import '@tensorflow/tfjs' for math itself),
 * because a native package may bring its own copy of tfjs-core with its own registered backends.
 */
export type Tfjs = typeof tfjs;

export type EngineName = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export type EngineDevice = 'gpu' | 'cpu';

/** What reports (inspect --json, benchmark) say about the engine that ran. */
export interface EngineInfo {
  name: EngineName;
  /** The tfjs backend name as tf.getBackend() reports it: 'tensorflow', 'wasm' or 'cpu'. */
  backend: string;
  device: EngineDevice;
}

/** A loaded, ready tensor engine: the tfjs namespace with the chosen backend active. */
export interface TensorEngine extends EngineInfo {
  readonly tf: Tfjs;
}

export function engineInfo(engine: TensorEngine): EngineInfo {
  return { name: engine.name, backend: engine.backend, device: engine.device };
}
