import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ModelpressError, messageOf, UsageError } from '../errors.js';
import { checkOutputPaths } from '../io/atomic-write.js';
import { totalFileBytes } from '../io/file-sizes.js';
import { loadTfjsModel, tfjsModelFiles, type TfjsModel } from '../tfjs/load-tfjs-model.js';
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
  if (!scheme.tfjs) throw new UsageError(`--scheme ${scheme.name} does not apply to TF.js models (TF.js schemes: uint8, uint16, fp16)`);
  const output = outputModelJson(request.output);
  const model = await loadTfjsModel(modelFile);
  const inputFiles = tfjsModelFiles(model);
  // The output folder is made here (one level, as tfjs-converter does) and removed again if the run fails.
  const folderCreated = await makeOutputFolder(path.dirname(output));
  try {
    return await quantizeIntoFolder(request, scheme, modelFile, model, inputFiles, output);
  } catch (error) {
    if (folderCreated) await fs.rm(path.dirname(output), { recursive: true, force: true });
    throw error;
  }
}

async function makeOutputFolder(folder: string): Promise<boolean> {
  try {
    await fs.mkdir(folder);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new ModelpressError(`cannot create the output folder ${folder}: ${messageOf(error)}`);
  }
}

async function quantizeIntoFolder(
  request: QuantizeRequest,
  scheme: QuantizationScheme,
  modelFile: string,
  model: TfjsModel,
  inputFiles: string[],
  output: string,
): Promise<QuantizeReport> {
  const { options, log } = request;
  checkOutputPaths([output], inputFiles, request.force);
  const sizeBefore = await totalFileBytes(inputFiles);

  const tf = request.verify ? (await request.engine?.())?.tf : undefined;
  // Inputs first: an open dimension without --shape fails before anything is written.
  const inputs = request.verify ? await generateTfjsInputs(modelFile, { shapes: request.shapes, samples: request.verifySamples, tf }) : undefined;

  const result = await scheme.tfjs!({ model, options, log });
  const quantized = result.decisions.filter((decision) => decision.action === 'quantized');
  if (quantized.length === 0) {
    const reasons = [...new Set(result.decisions.map((decision) => decision.reason))].join('; ') || 'no weights';
    throw new UsageError(`nothing to quantize in ${modelFile} with --scheme ${scheme.name} (${reasons}); no output written`);
  }
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
