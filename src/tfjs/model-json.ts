import { FormatError } from '../errors.js';
import { isTfjsDtype, type TfjsDtype } from './weight-dtypes.js';
import { isTfjsQuantizationName, TFJS_QUANTIZATIONS, type TfjsQuantizationName } from './weight-quantization.js';

/**
 * The on-disk `model.json` of a TF.js model (tfjs-core `ModelJSON`). Fields modelpress does not interpret
 * (trainingConfig, signature, userDefinedMetadata, modelInitializer, ...) stay in the object untouched, so
 * a saved model carries them through.
 */

export type TfjsModelKind = 'layers-model' | 'graph-model';

export interface TfjsQuantization {
  dtype: TfjsQuantizationName;
  min?: number;
  scale?: number;
  [field: string]: unknown;
}

/** One entry of a manifest group's `weights`, exactly as written (extra fields kept). */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: TfjsDtype;
  quantization?: TfjsQuantization;
  [field: string]: unknown;
}

/** The weights of a group are concatenated into one byte stream, which is cut into the files in `paths`. */
export interface TfjsManifestGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
  [field: string]: unknown;
}

export interface TfjsModelJson {
  modelTopology: Record<string, unknown>;
  weightsManifest?: TfjsManifestGroup[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  [field: string]: unknown;
}

/** `format` values written by tfjs and tfjs-converter. */
const FORMAT_NAMES: Record<string, TfjsModelKind> = {
  'layers-model': 'layers-model',
  'graph-model': 'graph-model',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parse and check `model.json` text; every error names `file` and what was expected. */
export function parseTfjsModelJson(text: string, file: string): { json: TfjsModelJson; kind: TfjsModelKind } {
  if (text.trim().length === 0) throw new FormatError(`${file}: file is empty, expected a TF.js model.json`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new FormatError(`${file}: not valid JSON, the file is truncated or not a TF.js model.json (${(error as Error).message})`);
  }
  if (!isRecord(parsed) || !isRecord(parsed.modelTopology)) {
    throw new FormatError(`${file}: JSON is not a TF.js model: it has no "modelTopology" object`);
  }
  const kind = tfjsModelKind(parsed as TfjsModelJson, file);
  // tfjs treats a null manifest as none (topology-only model).
  if (parsed.weightsManifest != null) checkWeightsManifest(parsed.weightsManifest, file);
  return { json: parsed as TfjsModelJson, kind };
}

/**
 * `format` decides; files from converters older than tfjs 1.0 lack it, so fall back on the topology's
 * shape: a GraphDef has a `node` list, a Keras config has `class_name` (tfjs) or `model_config` (Keras).
 */
export function tfjsModelKind(json: TfjsModelJson, file: string): TfjsModelKind {
  if (json.format !== undefined) {
    const kind = typeof json.format === 'string' ? FORMAT_NAMES[json.format] : undefined;
    if (kind === undefined) {
      throw new FormatError(
        `${file}: unsupported TF.js format ${JSON.stringify(json.format)} (expected ${Object.keys(FORMAT_NAMES).join(' or ')})`,
      );
    }
    return kind;
  }
  const topology = json.modelTopology;
  if (Array.isArray(topology.node)) return 'graph-model';
  if ('class_name' in topology || 'model_config' in topology) return 'layers-model';
  throw new FormatError(
    `${file}: JSON is not a TF.js model: "modelTopology" is neither a Keras config (class_name/model_config) nor a graph (node)`,
  );
}

function checkWeightsManifest(manifest: unknown, file: string): void {
  if (!Array.isArray(manifest)) throw new FormatError(`${file}: "weightsManifest" must be a list of groups`);
  manifest.forEach((group: unknown, groupIndex) => {
    const where = `${file}: weightsManifest[${groupIndex}]`;
    if (!isRecord(group)) throw new FormatError(`${where} must be an object with "paths" and "weights"`);
    if (!Array.isArray(group.paths) || !group.paths.every((entry) => typeof entry === 'string')) {
      throw new FormatError(`${where}.paths must be a list of shard file names`);
    }
    if (!Array.isArray(group.weights)) throw new FormatError(`${where}.weights must be a list of weight specs`);
    group.weights.forEach((spec: unknown, weightIndex) => checkWeightSpec(spec, `${where}.weights[${weightIndex}]`));
  });
}

function checkWeightSpec(spec: unknown, where: string): void {
  if (!isRecord(spec) || typeof spec.name !== 'string') throw new FormatError(`${where} must be an object with a string "name"`);
  const named = `${where} ("${spec.name}")`;
  if (!Array.isArray(spec.shape) || !spec.shape.every((size) => Number.isSafeInteger(size) && size >= 0)) {
    throw new FormatError(`${named}: "shape" must be a list of non-negative integers, got ${JSON.stringify(spec.shape)}`);
  }
  if (!isTfjsDtype(spec.dtype)) throw new FormatError(`${named}: unsupported dtype ${JSON.stringify(spec.dtype)}`);
  if (spec.quantization === undefined) return;
  const quantization = spec.quantization;
  if (!isRecord(quantization) || !isTfjsQuantizationName(quantization.dtype)) {
    throw new FormatError(
      `${named}: unsupported quantization ${JSON.stringify(quantization)} (expected dtype ${Object.keys(TFJS_QUANTIZATIONS).join(', ')})`,
    );
  }
  const scheme = TFJS_QUANTIZATIONS[quantization.dtype];
  if (!(scheme.weightDtypes as readonly string[]).includes(spec.dtype)) {
    throw new FormatError(`${named}: ${quantization.dtype} quantization is not defined for ${spec.dtype} weights`);
  }
  if (scheme.affine && !(Number.isFinite(quantization.min) && Number.isFinite(quantization.scale))) {
    throw new FormatError(`${named}: ${quantization.dtype} quantization needs numeric "min" and "scale"`);
  }
}
