import { ModelpressError, UsageError } from '../../errors.js';
import type { Logger } from '../../terminal/logger.js';
import { decodeTfjsWeight } from '../../tfjs/decode-weight.js';
import { streamTfjsWeights, type TfjsModel, type TfjsWeightEntry } from '../../tfjs/load-tfjs-model.js';
import type { TfjsWeight } from '../../tfjs/weight-layout.js';
import { elementCount } from '../../tfjs/weight-dtypes.js';
import type { TfjsQuantizationName } from '../../tfjs/weight-quantization.js';
import { weightAlgorithm, type WeightAlgorithm } from '../algorithms/weight-algorithms.js';
import type { TensorDecision } from '../quantize-report.js';
import type { TfjsSchemeContext, TfjsSchemeResult } from '../schemes.js';
import type { WeightSelection } from '../weight-selection.js';
import { TFJS_WEIGHT_STORAGE, type TfjsWeightStorage } from './tfjs-weight-storage.js';

/** The TF.js storage each --scheme name (aliases included) stands for. */
const TFJS_STORAGE_OF_SCHEME: Record<string, TfjsQuantizationName> = {
  uint8: 'uint8',
  uint16: 'uint16',
  fp16: 'float16',
  float16: 'float16',
};

/** tfjs #6551: a maintainer's answer that quantized tfjs models are not faster, only smaller to download. */
export const TFJS_DEQUANTIZES_ON_LOAD_NOTE =
  'TF.js dequantizes uint8/uint16/float16 weights to float32 when the model loads: the download is smaller, but memory use and speed at run time stay the same (tfjs issue #6551).';

/**
 * tfjs-converter's weight quantization (--quantize_uint8 / --quantize_uint16 / --quantize_float16) on a TF.js
 * model: every selected float32 weight is stored quantized, everything else is copied as it is. The plan is
 * made from model.json alone; the returned `weights` read, quantize and hand over one weight at a time when
 * the save consumes them (each iteration starts a fresh pass), so memory does not grow with the model.
 * saveTfjsModel rebuilds the manifest from the streamed specs; `modelJson` is the input's, unchanged.
 * A quantized weight's decision gains `detail.min` and `detail.scale` (affine storage) as it streams.
 */
export async function quantizeTfjsWeights(context: TfjsSchemeContext): Promise<TfjsSchemeResult> {
  const { model, options, log } = context;
  const storageName = TFJS_STORAGE_OF_SCHEME[options.scheme];
  if (storageName === undefined) {
    throw new UsageError(`--scheme ${options.scheme} has no TF.js storage (TF.js models take ${Object.keys(TFJS_STORAGE_OF_SCHEME).join(', ')})`);
  }
  const storage = TFJS_WEIGHT_STORAGE[storageName];
  const algorithm = weightAlgorithm(options.algo);
  const decisions = model.weights.map((weight) => planWeight(weight, storage, options.selection));
  const notes = [TFJS_DEQUANTIZES_ON_LOAD_NOTE];
  if (options.blockSize !== undefined || options.symmetric !== undefined) {
    notes.push(`--block-size and --symmetric do not apply to TF.js weights: tfjs-converter's formats keep one range per tensor (uint8, uint16) or none (float16).`);
  }
  const quantized = decisions.filter((decision) => decision.action === 'quantized').length;
  log.debug(`tfjs ${storage.label}: ${quantized} of ${decisions.length} weights selected`);
  const weights: AsyncIterable<TfjsWeightEntry> = {
    [Symbol.asyncIterator]: () => rewriteWeights(model, decisions, storage, algorithm, log),
  };
  return { decisions, modelJson: model.json, weights, notes };
}

function planWeight(weight: TfjsWeight, storage: TfjsWeightStorage, selection: WeightSelection): TensorDecision {
  const { spec } = weight;
  const elements = elementCount(spec.shape);
  const skipped = (reason: string): TensorDecision => ({
    weight: spec.name,
    action: 'skipped',
    reason,
    elements,
    bytesBefore: weight.byteLength,
    bytesAfter: weight.byteLength,
  });
  if (spec.quantization !== undefined) return skipped(`already stored as ${spec.quantization.dtype}`);
  // As tfjs-converter's _quantize_entry: int32, bool, string and complex weights are written as they are.
  if (spec.dtype !== 'float32') return skipped(`${spec.dtype}, not float32 (tfjs quantizes float32 weights only)`);
  if (elements === 0) return skipped('no elements');
  const verdict = selection.verdict({ weightName: spec.name, elements });
  if (verdict !== undefined) return skipped(verdict);
  return {
    weight: spec.name,
    action: 'quantized',
    storage: storage.label,
    elements,
    bytesBefore: weight.byteLength,
    bytesAfter: elements * storage.bytesPerElement,
  };
}

async function* rewriteWeights(
  model: TfjsModel,
  decisions: TensorDecision[],
  storage: TfjsWeightStorage,
  algorithm: WeightAlgorithm,
  log: Logger,
): AsyncGenerator<TfjsWeightEntry> {
  let index = 0;
  for await (const entry of streamTfjsWeights(model)) {
    const decision = decisions[index++]!;
    if (decision.action !== 'quantized') {
      yield entry;
      continue;
    }
    const values = decodeTfjsWeight(entry.spec, entry.bytes) as Float32Array;
    checkFinite(model, entry.spec.name, values);
    const { bytes, quantization } = storage.encode(values, algorithm, entry.spec.name);
    if (typeof quantization.min === 'number' && typeof quantization.scale === 'number') {
      decision.detail = { min: quantization.min, scale: quantization.scale };
    }
    log.debug(`${entry.spec.name}: ${storage.label}${decision.detail ? ` min ${quantization.min} scale ${quantization.scale}` : ''}`);
    yield { spec: { ...entry.spec, quantization }, bytes, manifestGroup: entry.manifestGroup };
  }
}

/** A NaN or infinity would make the range (and so every code) meaningless; say which weight holds it. */
function checkFinite(model: TfjsModel, weight: string, values: Float32Array): void {
  for (let index = 0; index < values.length; index++) {
    if (!Number.isFinite(values[index]!)) {
      throw new ModelpressError(
        `${model.modelJsonPath}: weight "${weight}" holds ${values[index]} at element ${index}; it cannot be quantized (keep it float32 with --exclude '${weight}')`,
      );
    }
  }
}
