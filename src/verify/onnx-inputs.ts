import ort from 'onnxruntime-node';
import { ModelpressError } from '../errors.js';
import { describeOnnx } from '../inspect/describe-onnx.js';
import { SeededRandom } from '../numeric/seeded-random.js';
import { OnnxGraph } from '../onnx/graph.js';
import type { OnnxModel } from '../onnx/onnx-model.js';
import { tensorDims } from '../onnx/tensor-data.js';
import { concreteShape } from './input-shapes.js';

/**
 * Deterministic inputs for verifying an ONNX model when no calibration file is given: floats drawn from a
 * seeded normal distribution, integer inputs that index an embedding kept inside its vocabulary.
 */

/** Typed-array constructors for the input element types a verification can feed. */
const INPUT_FILLERS: Record<string, (count: number, random: SeededRandom, limit: number) => ort.Tensor['data']> = {
  float32: (count, random) => Float32Array.from({ length: count }, () => random.normal(1)),
  float64: (count, random) => Float64Array.from({ length: count }, () => random.normal(1)),
  int64: (count, random, limit) => BigInt64Array.from({ length: count }, () => BigInt(Math.floor(random.next() * limit))),
  int32: (count, random, limit) => Int32Array.from({ length: count }, () => Math.floor(random.next() * limit)),
  bool: (count, random) => Uint8Array.from({ length: count }, () => (random.next() < 0.5 ? 1 : 0)),
};

/** The exclusive upper bound for integer values of `input`: the row count of an embedding it indexes. */
function indexLimit(model: OnnxModel, input: string): number {
  const graph = new OnnxGraph(model.proto.graph!);
  for (const node of graph.consumers(input)) {
    if (node.op_type === 'Gather' && node.input?.[1] === input) {
      const table = graph.initializer(node.input[0] ?? '');
      if (table) return tensorDims(table)[0] ?? 10;
    }
  }
  return 10;
}

export async function generateOnnxInputs(
  model: OnnxModel,
  overrides: Record<string, number[]>,
  samples = 2,
  seed = 1234,
): Promise<Array<Record<string, ort.Tensor>>> {
  const description = await describeOnnx(model);
  const random = new SeededRandom(seed);
  const result: Array<Record<string, ort.Tensor>> = [];
  for (let sample = 0; sample < samples; sample++) {
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of description.inputs) {
      const fill = INPUT_FILLERS[input.dtype];
      if (!fill) throw new ModelpressError(`input '${input.name}' is ${input.dtype}: cannot generate verification data for it (pass --calibration or --no-verify)`);
      const shape = concreteShape(input.name, input.shape, overrides);
      const count = shape.reduce((product, dim) => product * dim, 1);
      const type = input.dtype === 'float64' ? 'float64' : (input.dtype as 'float32' | 'int64' | 'int32' | 'bool');
      const data = fill(count, random, indexLimit(model, input.name));
      feeds[input.name] = type === 'bool' ? new ort.Tensor('bool', data as Uint8Array, shape) : new ort.Tensor(type, data as Float32Array, shape);
    }
    result.push(feeds);
  }
  return result;
}
