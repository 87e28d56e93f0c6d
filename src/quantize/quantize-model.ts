import { locateModel, type ModelFamily } from '../model-format.js';
import { UsageError } from '../errors.js';
import { quantizeToTargetCosine } from './accuracy-target.js';
import { weightAlgorithm } from './algorithms/weight-algorithms.js';
import { quantizeOnnxModel } from './quantize-onnx-model.js';
import type { QuantizeReport } from './quantize-report.js';
import type { QuantizeRequest } from './quantize-request.js';
import { quantizeTfjsModel } from './quantize-tfjs-model.js';
import { quantizationScheme, type QuantizationScheme } from './schemes.js';

/** The quantize pipeline of each model family. */
const PIPELINES: Record<ModelFamily, (request: QuantizeRequest, scheme: QuantizationScheme, modelFile: string) => Promise<QuantizeReport>> = {
  onnx: quantizeOnnxModel,
  tfjs: quantizeTfjsModel,
};

export async function quantizeModel(request: QuantizeRequest): Promise<QuantizeReport> {
  const scheme = quantizationScheme(request.options.scheme);
  if (scheme.needsCalibration && !request.options.calibration) {
    throw new UsageError(`--scheme ${scheme.name} needs calibration data: pass --calibration FILE (.npy, .npz or .json)`);
  }
  const algorithms = scheme.algorithms ?? ['rtn'];
  if (!algorithms.includes(request.options.algo)) {
    throw new UsageError(`--algo ${request.options.algo} is not available for --scheme ${scheme.name} (available: ${algorithms.join(', ')})`);
  }
  if (weightAlgorithm(request.options.algo).needsCalibration && !request.options.calibration) {
    throw new UsageError(`--algo ${request.options.algo} needs calibration data: pass --calibration FILE (.npy, .npz or .json)`);
  }
  if (request.options.outlierThreshold !== undefined && !request.options.calibration) {
    throw new UsageError('--outlier-threshold needs calibration data (--calibration FILE) to find the outlier features');
  }
  if (!request.verify && (request.gates.maxError !== undefined || request.gates.minCosine !== undefined || request.targetCosine !== undefined)) {
    throw new UsageError('--max-error, --min-cosine and --target-cosine need verification: drop --no-verify');
  }
  const located = await locateModel(request.input);
  const pipeline = (run: QuantizeRequest) => PIPELINES[located.family](run, scheme, located.file);
  return request.targetCosine === undefined ? pipeline(request) : quantizeToTargetCosine(request, request.targetCosine, pipeline);
}
