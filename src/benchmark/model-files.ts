import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LocatedModel } from '../model-format.js';
import { loadOnnxModel } from '../onnx/onnx-model.js';
import { loadTfjsModel, tfjsModelFiles } from '../tfjs/load-tfjs-model.js';

/** The files a model is made of, by family: ONNX with its external data files, TF.js model.json with its shards. */
const MODEL_FILES: Record<LocatedModel['family'], (file: string) => Promise<string[]>> = {
  onnx: async (file) => (await loadOnnxModel(file)).inputFiles,
  tfjs: async (file) => tfjsModelFiles(await loadTfjsModel(file)),
};

/** Every file of the model with its size on disk, paths relative to the current folder. */
export async function modelFileSizes(model: LocatedModel): Promise<Array<{ path: string; bytes: number }>> {
  const files = await MODEL_FILES[model.family](model.file);
  return Promise.all(files.map(async (file) => ({ path: path.relative(process.cwd(), file) || file, bytes: (await fs.stat(file)).size })));
}
