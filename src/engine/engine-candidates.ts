import type { LoadOptions } from './import-tfjs.js';
import { loadCpu } from './load-cpu.js';
import { loadTfjsNode } from './load-tfjs-node.js';
import { loadWasm } from './load-wasm.js';
import type { EngineDevice, EngineName, Tfjs } from './tensor-engine.js';

export interface EngineCandidate {
  name: EngineName;
  device: EngineDevice;
  /** The npm package that provides it, named in error messages. */
  packageName: string;
  /** Import the package and activate its backend; throws when it is absent or cannot start. */
  load(options: LoadOptions): Promise<Tfjs>;
  /** What to tell a user who asked for this engine and did not get it. */
  installHint?: string;
}

/** Every tensor engine modelpress can run on, fastest first: `--device auto` takes the first that loads. */
export const ENGINE_CANDIDATES: readonly EngineCandidate[] = [
  {
    name: 'tfjs-node-gpu',
    device: 'gpu',
    packageName: '@tensorflow/tfjs-node-gpu',
    load: (options) => loadTfjsNode('@tensorflow/tfjs-node-gpu', options),
    installHint:
      'install it with `npm install @tensorflow/tfjs-node-gpu` on a Linux x64 machine with an NVIDIA GPU, CUDA and cuDNN',
  },
  {
    name: 'tfjs-node',
    device: 'cpu',
    packageName: '@tensorflow/tfjs-node',
    load: (options) => loadTfjsNode('@tensorflow/tfjs-node', options),
    installHint: 'install it with `npm install @tensorflow/tfjs-node`',
  },
  { name: 'wasm', device: 'cpu', packageName: '@tensorflow/tfjs-backend-wasm', load: loadWasm },
  { name: 'cpu', device: 'cpu', packageName: '@tensorflow/tfjs', load: loadCpu },
];
