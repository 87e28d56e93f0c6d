import type { ModelDescription } from './model-description.js';
import { ModelpressError } from '../errors.js';

/** Describe a TF.js model.json for `inspect` (being written). */
export async function describeTfjsModel(modelJsonPath: string): Promise<ModelDescription> {
  throw new ModelpressError(`${modelJsonPath}: TF.js inspect not written yet`);
}
