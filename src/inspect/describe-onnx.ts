import type { ModelDescription } from './model-description.js';
import { ModelpressError } from '../errors.js';

/** Describe an .onnx model for `inspect` (being written). */
export async function describeOnnxModel(modelPath: string): Promise<ModelDescription> {
  throw new ModelpressError(`${modelPath}: ONNX inspect not written yet`);
}
