import { createRequire } from 'node:module';
import path from 'node:path';
import { activateBackend, importTfjs, type LoadOptions } from './import-tfjs.js';
import type { Tfjs } from './tensor-engine.js';

let wasmPathsSet = false;

/**
 * The WebAssembly backend: several times faster than pure JS and needs no native build. In Node it
 * cannot find its .wasm binaries by itself (it looks next to the page URL, as in a browser), so point
 * it at the package's dist/ folder on disk; setWasmPaths takes a prefix, hence the trailing separator.
 */
export async function loadWasm(options: LoadOptions): Promise<Tfjs> {
  const tf = await importTfjs(options);
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    const packageJson = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
    // tfjs throws if the paths are set again after the backend initialised, so set them once per process.
    wasm.setWasmPaths(path.join(path.dirname(packageJson), 'dist') + path.sep);
    wasmPathsSet = true;
  }
  await activateBackend(tf, 'wasm');
  return tf;
}
