import { UsageError } from '../errors.js';
import { locateModel } from '../model-format.js';
import { loadOnnxModel } from '../onnx/onnx-model.js';
import { loadCalibrationSet, modelFeedInputs } from './calibration-file.js';
import type { CalibrationSet } from './calibration-set.js';

/**
 * `--calibration FILE` for the model at `modelPath`: the file is read and checked against the inputs the
 * model declares. Calibration runs the model in onnxruntime, so it applies to ONNX models only.
 */
export async function loadCalibrationForModel(file: string, modelPath: string): Promise<CalibrationSet> {
  const located = await locateModel(modelPath);
  if (located.family !== 'onnx') throw new UsageError(`--calibration applies to ONNX models; ${modelPath} is a TF.js model`);
  const model = await loadOnnxModel(located.file);
  return loadCalibrationSet(file, modelFeedInputs(model.proto.graph!));
}
