import { activateBackend, applyLibraryWarnings, type LoadOptions } from './import-tfjs.js';
import type { Tfjs } from './tensor-engine.js';

/**
 * Load one of the native TensorFlow packages (@tensorflow/tfjs-node or -gpu). Both are optional
 * dependencies that fail to install without their prebuilt binaries, so absence is normal, and a
 * present package can still fail at import when libtensorflow or CUDA libraries are missing.
 * The specifier is a variable so TypeScript does not demand type declarations for a package that is
 * usually not installed.
 */
export async function loadTfjsNode(packageName: string, options: LoadOptions): Promise<Tfjs> {
  const specifier: string = packageName;
  const imported = (await import(specifier)) as Tfjs & { default?: Tfjs };
  // The packages are CommonJS; depending on how Node detects their exports the API sits on the
  // namespace itself or on its default export.
  const tf = typeof imported.setBackend === 'function' ? imported : (imported.default as Tfjs);
  applyLibraryWarnings(tf, options);
  // Importing registers the 'tensorflow' backend at top priority; activate it explicitly anyway in
  // case wasm or cpu was made active earlier in this process.
  await activateBackend(tf, 'tensorflow');
  return tf;
}
