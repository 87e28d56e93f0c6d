import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ModelpressError, messageOf } from './errors.js';

/**
 * The model file families modelpress reads, told apart by name alone: reading bytes to sniff would
 * make a typo'd extension look like a corrupt model. Whether a TF.js model.json is a layers or a
 * graph model is inside the file, so describeTfjsModel decides that.
 */
export const MODEL_FORMATS = {
  onnx: { shownAs: '.onnx', extension: '.onnx' },
  tfjs: { shownAs: 'TF.js model.json', extension: '.json', fileInFolder: 'model.json' },
} as const satisfies Record<string, ModelFormatTraits>;

interface ModelFormatTraits {
  /** How error messages name what was expected. */
  shownAs: string;
  extension: string;
  /** The file that stands for the model when the user names its folder. */
  fileInFolder?: string;
}

export type ModelFamily = keyof typeof MODEL_FORMATS;

export interface LocatedModel {
  family: ModelFamily;
  /** The file to read: the path given, or the model.json inside the folder given. */
  file: string;
}

/** Find the model file that `modelPath` names and its family, or say what is wrong with the path. */
export async function locateModel(modelPath: string): Promise<LocatedModel> {
  const stats = await statOrExplain(modelPath);
  if (stats.isDirectory()) {
    for (const [family, format] of formatEntries()) {
      if (!('fileInFolder' in format)) continue;
      const file = path.join(modelPath, format.fileInFolder);
      if ((await stat(file).catch(() => undefined))?.isFile()) return { family, file };
    }
    throw unknownFormat(modelPath);
  }
  const extension = path.extname(modelPath).toLowerCase();
  for (const [family, format] of formatEntries()) {
    if (format.extension === extension) return { family, file: modelPath };
  }
  throw unknownFormat(modelPath);
}

function formatEntries() {
  return Object.entries(MODEL_FORMATS) as Array<[ModelFamily, (typeof MODEL_FORMATS)[ModelFamily]]>;
}

async function statOrExplain(modelPath: string) {
  try {
    return await stat(modelPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelpressError(`${modelPath}: no such file`);
    throw new ModelpressError(`${modelPath}: ${messageOf(error)}`, { cause: error });
  }
}

function unknownFormat(modelPath: string): ModelpressError {
  const expected = Object.values(MODEL_FORMATS).map((format) => format.shownAs);
  return new ModelpressError(`cannot tell the model format of ${modelPath} (expected ${expected.join(' or ')})`);
}
