import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { checkOutputPaths } from '../io/atomic-write.js';
import { totalFileBytes } from '../io/file-sizes.js';
import { loadTfjsModel, tfjsModelFiles } from '../tfjs/load-tfjs-model.js';
import { saveTfjsModel } from '../tfjs/save-tfjs-model.js';
import { generateTfjsInputs, verifyTfjsModels } from '../verify/verify-tfjs.js';
import { failedGates } from './quality-gates.js';
import type { QuantizeReport } from './quantize-report.js';
import type { QuantizeRequest } from './quantize-request.js';
import type { QuantizationScheme } from './schemes.js';

/** `-o out/model.json` names the file; any other `-o` names the folder that will hold model.json. */
function outputModelJson(output: string): string {
  return path.extname(output).toLowerCase() === '.json' ? output : path.join(output, 'model.json');
}

/**
 * load (model.json only) -> plan -> save (weights quantized one at a time as the shards are written) ->
 * verify (tfjs runs both models) -> report.
 */
export async function quantizeTfjsModel(request: QuantizeRequest, scheme: QuantizationScheme, modelFile: string): Promise<QuantizeReport> {
  const { options, log } = request;
  if (!scheme.tfjs) throw new UsageError(`--scheme ${scheme.name} does not apply to TF.js models (TF.js schemes: uint8, uint16, fp16)`);
  const output = outputModelJson(request.output);
  const model = await loadTfjsModel(modelFile);
  const inputFiles = tfjsModelFiles(model);
  checkOutputPaths([output], inputFiles, request.force);
  const sizeBefore = await totalFileBytes(inputFiles);

  const tf = request.verify ? (await request.engine?.())?.tf : undefined;
  // Inputs first: an open dimension without --shape fails before anything is written.
  const inputs = request.verify ? await generateTfjsInputs(modelFile, { shapes: request.shapes, samples: request.verifySamples, tf }) : undefined;

  const result = await scheme.tfjs({ model, options, log });
  const quantized = result.decisions.filter((decision) => decision.action === 'quantized');
  if (quantized.length === 0) {
    const reasons = [...new Set(result.decisions.map((decision) => decision.reason))].join('; ') || 'no weights';
    throw new UsageError(`nothing to quantize in ${modelFile} with --scheme ${scheme.name} (${reasons}); no output written`);
  }
  await fs.mkdir(path.dirname(output), { recursive: true });
  log.info(`writing ${output}`);
  const saved = await saveTfjsModel(output, result.modelJson, result.weights, { force: request.force, inputPaths: inputFiles });
  const sizeAfter = await totalFileBytes([saved.modelJsonPath, ...saved.shardFiles]);

  let verification;
  if (inputs) {
    log.info(`verifying: tfjs runs both models on ${inputs.length} generated input(s)`);
    verification = await verifyTfjsModels(modelFile, output, { inputs, tf });
  }
  return {
    input: modelFile,
    output,
    format: 'tfjs',
    scheme: scheme.name,
    algo: options.algo,
    tensors: { quantized: quantized.length, skipped: result.decisions.length - quantized.length, decisions: result.decisions },
    size: { before: sizeBefore, after: sizeAfter, ratio: sizeAfter / sizeBefore },
    verification,
    notes: result.notes,
    failedGates: failedGates(verification, request.gates),
  };
}
