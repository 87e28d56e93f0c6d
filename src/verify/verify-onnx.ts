import ort from 'onnxruntime-node';
import { ModelpressError, messageOf } from '../errors.js';
import { floatToHalfBits, halvesToFloat32 } from '../numeric/float16.js';
import type { OutputError, VerificationResult } from '../quantize/quantize-report.js';
import { compareOutputs, mergeOutputErrors } from './output-metrics.js';

/**
 * Run the original and the rewritten ONNX model in onnxruntime on the same inputs and measure how far the
 * outputs drift. A rewrite may change input types (fp16 without --keep-io-types): inputs are converted to
 * what each session declares, outputs back to float for the comparison.
 */

async function openSession(modelPath: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(modelPath);
  } catch (error) {
    throw new ModelpressError(`onnxruntime cannot load ${modelPath}: ${messageOf(error).split('\n')[0]}`);
  }
}

function declaredType(session: ort.InferenceSession, input: string): string | undefined {
  const metadata = (session as unknown as { inputMetadata?: Array<{ name: string; type?: string; isTensor?: boolean }> }).inputMetadata;
  return metadata?.find((entry) => entry.name === input)?.type;
}

/** Convert float32 feeds to float16 (or back) where the session's input type differs. */
function adaptFeeds(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const adapted: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    const wanted = declaredType(session, name);
    if (wanted === 'float16' && tensor.type === 'float32') {
      adapted[name] = new ort.Tensor('float16', Uint16Array.from(tensor.data as Float32Array, floatToHalfBits), tensor.dims);
    } else if (wanted === 'float32' && tensor.type === 'float16') {
      adapted[name] = new ort.Tensor('float32', halvesToFloat32(tensor.data as Uint16Array), tensor.dims);
    } else adapted[name] = tensor;
  }
  return adapted;
}

function asNumbers(tensor: ort.Tensor): ArrayLike<number> {
  if (tensor.type === 'float16') return halvesToFloat32(tensor.data as Uint16Array);
  if (tensor.type === 'int64' || tensor.type === 'uint64') return Float64Array.from(tensor.data as BigInt64Array, Number);
  if (tensor.type === 'string') throw new ModelpressError('string outputs cannot be compared numerically');
  return tensor.data as ArrayLike<number>;
}

async function run(session: ort.InferenceSession, modelPath: string, feeds: Record<string, ort.Tensor>) {
  try {
    return await session.run(adaptFeeds(session, feeds));
  } catch (error) {
    throw new ModelpressError(`onnxruntime failed to run ${modelPath}: ${messageOf(error).split('\n')[0]}`);
  }
}

export async function verifyOnnxModels(
  originalPath: string,
  rewrittenPath: string,
  inputs: Array<Record<string, ort.Tensor>>,
  source: VerificationResult['inputs'],
): Promise<VerificationResult> {
  const original = await openSession(originalPath);
  const rewritten = await openSession(rewrittenPath);
  try {
    const perOutput = new Map<string, OutputError[]>();
    for (const feeds of inputs) {
      const expected = await run(original, originalPath, feeds);
      const actual = await run(rewritten, rewrittenPath, feeds);
      for (const [name, tensor] of Object.entries(expected)) {
        const other = actual[name];
        if (!other) throw new ModelpressError(`${rewrittenPath} has no output '${name}'`);
        const classes = tensor.dims.length >= 2 ? Number(tensor.dims[tensor.dims.length - 1]) : undefined;
        const errors = perOutput.get(name) ?? [];
        errors.push(compareOutputs(name, asNumbers(tensor), asNumbers(other), classes));
        perOutput.set(name, errors);
      }
    }
    return { inputs: source, samples: inputs.length, outputs: [...perOutput.values()].map(mergeOutputErrors) };
  } finally {
    await original.release();
    await rewritten.release();
  }
}
