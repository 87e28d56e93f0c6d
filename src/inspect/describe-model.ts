import { locateModel, type LocatedModel, type ModelFamily } from '../model-format.js';
import { describeOnnxModel } from './describe-onnx.js';
import { describeTfjsModel } from './describe-tfjs.js';
import type { ModelDescription } from './model-description.js';

const DESCRIBERS: Record<ModelFamily, (file: string) => Promise<ModelDescription>> = {
  onnx: describeOnnxModel,
  tfjs: describeTfjsModel,
};

/** What `inspect` reports about a model, for any supported format; accepts a path or an already located model. */
export async function describeModel(model: string | LocatedModel): Promise<ModelDescription> {
  const located = typeof model === 'string' ? await locateModel(model) : model;
  return DESCRIBERS[located.family](located.file);
}
