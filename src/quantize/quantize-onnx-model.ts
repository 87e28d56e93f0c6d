import path from 'node:path';
import type ort from 'onnxruntime-node';
import { ModelpressError, UsageError } from '../errors.js';
import { checkOutputFolders, checkOutputPaths } from '../io/atomic-write.js';
import { totalFileBytes } from '../io/file-sizes.js';
import { promoteConstantWeightsToInitializers } from '../onnx/constant-weights.js';
import { loadOnnxModel } from '../onnx/onnx-model.js';
import { saveOnnxModel } from '../onnx/save-onnx.js';
import { generateOnnxInputs } from '../verify/onnx-inputs.js';
import { verifyOnnxModels } from '../verify/verify-onnx.js';
import type { ProgressFactory } from '../terminal/progress.js';
import type { QuantizeRequest } from './quantize-request.js';
import type { QuantizeReport, TensorDecision } from './quantize-report.js';
import { failedGates } from './quality-gates.js';
import type { QuantizationScheme } from './schemes.js';

/** Why nothing was quantized, grouped: "12 weights: shared with Gather; 3 weights: element type int64". */
function skipSummary(decisions: TensorDecision[]): string {
  if (decisions.length === 0) return 'no weight feeds an op this scheme rewrites';
  const counts = new Map<string, number>();
  for (const decision of decisions) counts.set(decision.reason ?? 'skipped', (counts.get(decision.reason ?? 'skipped') ?? 0) + 1);
  return [...counts].map(([reason, count]) => `${count} weight${count === 1 ? '' : 's'}: ${reason}`).join('; ');
}

/**
 * load -> plan and rewrite (the scheme changes the graph and registers lazy tensor producers) -> save
 * (streams one weight at a time) -> verify (onnxruntime runs both models) -> report.
 */
export async function quantizeOnnxModel(request: QuantizeRequest, scheme: QuantizationScheme, modelFile: string): Promise<QuantizeReport> {
  const { options, log } = request;
  if (!scheme.onnx) throw new UsageError(`--scheme ${scheme.name} does not apply to ONNX models`);
  if (path.extname(request.output).toLowerCase() !== '.onnx') {
    throw new UsageError(`output ${request.output} must be an .onnx file for an ONNX input`);
  }
  const model = await loadOnnxModel(modelFile);
  // Refuse a clobber before any work, not after minutes of rewriting.
  checkOutputFolders([request.output]);
  checkOutputPaths([request.output], model.inputFiles, request.force);
  const sizeBefore = await totalFileBytes(model.inputFiles);

  // Verification inputs are settled before rewriting: a missing --shape fails fast and writes nothing.
  let inputs: Array<Record<string, ort.Tensor>> | undefined;
  if (request.verify) {
    inputs = options.calibration?.samples.slice(0, request.verifySamples) ?? (await generateOnnxInputs(model, request.shapes, request.verifySamples));
  }

  const promoted = promoteConstantWeightsToInitializers(model.proto);
  if (promoted) log.debug(`${promoted} Constant-node weights treated as initializers`);
  const decisions = await scheme.onnx({ model, options, log });
  const quantized = decisions.filter((decision) => decision.action === 'quantized');
  if (quantized.length === 0) {
    throw new ModelpressError(`nothing to quantize in ${modelFile} with --scheme ${scheme.name} (${skipSummary(decisions)}); no output written`);
  }

  log.info(`writing ${request.output}`);
  let bar: ReturnType<ProgressFactory> | undefined;
  let saved;
  try {
    saved = await saveOnnxModel(model, request.output, {
      externalData: request.externalData,
      dataFileName: request.dataFileName,
      force: request.force,
      onProgress: (done, total) => {
        bar ??= request.progress?.('quantizing and writing tensors', total);
        bar?.update(done);
      },
    });
  } finally {
    bar?.stop();
  }
  const sizeAfter = saved.modelBytes + saved.dataBytes;

  let verification;
  if (inputs) {
    log.info(`verifying: onnxruntime runs both models on ${inputs.length} ${options.calibration ? 'calibration' : 'generated'} input(s)`);
    verification = await verifyOnnxModels(modelFile, request.output, inputs, options.calibration ? 'calibration' : 'generated');
  }
  return {
    input: modelFile,
    output: request.output,
    format: 'onnx',
    scheme: scheme.name,
    algo: options.algo,
    tensors: { quantized: quantized.length, skipped: decisions.length - quantized.length, decisions },
    size: { before: sizeBefore, after: sizeAfter, ratio: sizeAfter / sizeBefore },
    verification,
    notes: [],
    failedGates: failedGates(verification, request.gates),
  };
}
