import { activateBackend, importTfjs, type LoadOptions } from './import-tfjs.js';
import type { Tfjs } from './tensor-engine.js';

/** tfjs's pure JavaScript kernels: slow, but they load wherever Node runs, so they are the last resort. */
export async function loadCpu(options: LoadOptions): Promise<Tfjs> {
  const tf = await importTfjs(options);
  await activateBackend(tf, 'cpu');
  return tf;
}
