import { promises as fs } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { FormatError, ModelpressError, messageOf } from '../errors.js';
import { halfBitsToFloat } from '../numeric/float16.js';
import { onnxDataTypeName } from '../onnx/data-types.js';
import type { GraphProto, ValueInfoProto } from '../onnx/onnx-proto.js';
import type { CalibrationSet } from './calibration-set.js';
import { ELEMENT_ARRAYS, formatShape, jsonArray } from './json-arrays.js';
import { ArrayData, FileArray, parseNpy } from './npy-array.js';
import { readZipEntries } from './zip-archive.js';

/**
 * `--calibration FILE`: representative inputs, read from .npy (one array, for a single-input model), .npz
 * (one array per input, keyed by input name) or .json, then checked against the model's inputs.
 *
 * Samples: an array with one more axis than its input lists samples along that first axis (x of shape
 * [8, 1, 3, 48, 320] for an input [batch, 3, 48, W] is 8 samples); an array of the input's own rank is one
 * sample, or, beside arrays that list samples, the same value in every sample. JSON can also list samples
 * as a top-level array: [{"x": ...}, {"x": ...}].
 */

/** A model input a calibration file must supply: a graph input that is not an initializer. */
export interface ModelInput {
  name: string;
  dtype: string;
  /** Fixed sizes, or null for symbolic / unknown dims; undefined when the model does not say. */
  shape?: Array<number | null>;
}

/** The inputs a caller must feed: graph inputs less those backed by initializers (IR < 4 lists both). */
export function modelFeedInputs(graph: GraphProto): ValueInfoProto[] {
  const initializers = new Set((graph.initializer ?? []).map((tensor) => tensor.name));
  return (graph.input ?? []).filter((input) => !initializers.has(input.name));
}

function describeInput(input: ValueInfoProto): ModelInput {
  const tensorType = input.type?.tensor_type;
  if (!tensorType) throw new ModelpressError(`model input '${input.name ?? ''}' is not a tensor: calibration supports tensor inputs only`);
  // No shape message: rank unknown. A shape without dims: a scalar.
  const shape = tensorType.shape;
  return {
    name: input.name ?? '',
    dtype: onnxDataTypeName(tensorType.elem_type),
    shape: shape && (shape.dim ?? []).map((dim) => (dim.dim_value !== undefined && !dim.dim_param ? Number(dim.dim_value) : null)),
  };
}

// ------------------------------------------------------------------------------------------ formats

type RawSample = Map<string, FileArray>;

interface CalibrationFormat {
  read(bytes: Uint8Array, file: string, inputs: ModelInput[]): RawSample[];
}

const CALIBRATION_FORMATS: Record<string, CalibrationFormat> = {
  '.npy': {
    read(bytes, file, inputs) {
      if (inputs.length !== 1) {
        throw new ModelpressError(`${file}: a .npy file holds one array but the model has ${inputs.length} inputs (${inputs.map((input) => input.name).join(', ')}): use .npz or .json keyed by input name`);
      }
      return [new Map([[inputs[0]!.name, parseNpy(bytes, file)]])];
    },
  },
  '.npz': {
    read(bytes, file, inputs) {
      const entries = [...readZipEntries(bytes, file)].filter(([name]) => name.endsWith('.npy'));
      const sample: RawSample = new Map();
      for (const [entry, data] of entries) sample.set(entry.slice(0, -'.npy'.length), parseNpy(data, `${file}: '${entry}'`));
      // np.savez(file, array) names a positional array arr_0: fine for a single-input model.
      if (inputs.length === 1 && sample.size === 1 && sample.has('arr_0') && !sample.has(inputs[0]!.name)) {
        return [new Map([[inputs[0]!.name, sample.get('arr_0')!]])];
      }
      return [sample];
    },
  },
  '.json': {
    read(bytes, file, inputs) {
      let document: unknown;
      try {
        document = JSON.parse(new TextDecoder().decode(bytes));
      } catch (error) {
        throw new FormatError(`${file}: not valid JSON (${messageOf(error)})`);
      }
      const samples = Array.isArray(document) ? document : [document];
      return samples.map((sample, index) => {
        if (!sample || typeof sample !== 'object' || Array.isArray(sample)) {
          throw new FormatError(`${file}: sample ${index} is not an object of {inputName: values}`);
        }
        return new Map(
          Object.entries(sample as Record<string, unknown>).map(([name, value]) => {
            const dtype = inputs.find((input) => input.name === name)?.dtype ?? 'float32';
            return [name, jsonArray(value, dtype, `${file}: sample ${index} input '${name}'`)] as const;
          }),
        );
      });
    },
  },
};

// ------------------------------------------------------------------------------------------ checking

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);
const INTEGER_TYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

/** Element values as plain numbers/bigints, float16 decoded. */
function elementsOf(array: FileArray): Array<number | bigint> {
  if (array.dtype === 'float16') return Array.from(array.data as Uint16Array, halfBitsToFloat);
  return Array.from(array.data as ArrayLike<number | bigint>);
}

/**
 * The data as the input's element type. Floats convert among float types (np.save writes float64 by
 * default) and integers among integer types when every value fits; anything else is a mistake worth
 * stopping for (an image saved as uint8 for a float input has skipped its normalisation).
 */
function convertTo(array: FileArray, dtype: string, where: string): FileArray {
  if (array.dtype === dtype) return array;
  const bothFloat = FLOAT_TYPES.has(array.dtype) && FLOAT_TYPES.has(dtype);
  const bothInteger = INTEGER_TYPES.has(array.dtype) && INTEGER_TYPES.has(dtype);
  if (!bothFloat && !bothInteger) throw new ModelpressError(`${where}: the model input is ${dtype}, the calibration data is ${array.dtype}`);
  const values = elementsOf(array);
  const data = bothFloat
    ? ELEMENT_ARRAYS[dtype]!(values, where)
    : ELEMENT_ARRAYS[dtype]!(
        values.map((value) => (dtype.endsWith('64') ? value.toString() : Number(value))),
        where,
      );
  return { dtype, shape: array.shape, data };
}

function checkShape(input: ModelInput, shape: number[], where: string): void {
  if (!input.shape) return;
  const mismatch =
    shape.length !== input.shape.length ? `rank ${shape.length}` : input.shape.findIndex((dim, axis) => dim !== null && dim !== shape[axis]) >= 0 ? 'a different size' : undefined;
  if (mismatch) {
    throw new ModelpressError(`${where}: shape ${formatShape(shape)} does not fit the model input ${formatShape(input.shape)} (${mismatch})`);
  }
}

function sliceSample(array: FileArray, sample: number): FileArray {
  const shape = array.shape.slice(1);
  const count = shape.reduce((product, dim) => product * dim, 1);
  return { dtype: array.dtype, shape, data: array.data.slice(sample * count, (sample + 1) * count) as ArrayData };
}

/** Expand one raw sample (arrays maybe listing samples) into model-ready samples. */
function expandSample(raw: RawSample, inputs: ModelInput[], where: string): Array<Record<string, ort.Tensor>> {
  const known = new Set(inputs.map((input) => input.name));
  const unknown = [...raw.keys()].filter((name) => !known.has(name));
  if (unknown.length) throw new ModelpressError(`${where}: '${unknown[0]}' is not an input of the model (inputs: ${[...known].join(', ')})`);
  const missing = inputs.find((input) => !raw.has(input.name));
  if (missing) throw new ModelpressError(`${where}: no data for model input '${missing.name}' (inputs: ${[...known].join(', ')}; found: ${[...raw.keys()].join(', ') || 'nothing'})`);

  let count: number | undefined;
  const listsSamples = new Map<string, boolean>();
  for (const input of inputs) {
    const array = raw.get(input.name)!;
    const lists = input.shape !== undefined && array.shape.length === input.shape.length + 1;
    listsSamples.set(input.name, lists);
    if (!lists) continue;
    if (count !== undefined && count !== array.shape[0]) {
      throw new ModelpressError(`${where}: input '${input.name}' lists ${array.shape[0]} samples, another input lists ${count}`);
    }
    count = array.shape[0]!;
  }
  const samples: Array<Record<string, ort.Tensor>> = [];
  for (let index = 0; index < (count ?? 1); index++) {
    const sample: Record<string, ort.Tensor> = {};
    for (const input of inputs) {
      const label = `${where}: input '${input.name}'${count === undefined ? '' : ` sample ${index}`}`;
      const whole = raw.get(input.name)!;
      const array = convertTo(listsSamples.get(input.name) ? sliceSample(whole, index) : whole, input.dtype, label);
      checkShape(input, array.shape, label);
      sample[input.name] = new ort.Tensor(input.dtype as 'float32', array.data as Float32Array, array.shape);
    }
    samples.push(sample);
  }
  return samples;
}

/**
 * Read a calibration file and check it against `modelInputs` (see modelFeedInputs). Every problem is a
 * one-line ModelpressError naming the file and the input.
 */
export async function loadCalibrationSet(file: string, modelInputs: ValueInfoProto[]): Promise<CalibrationSet> {
  const extension = path.extname(file).toLowerCase();
  const format = CALIBRATION_FORMATS[extension];
  if (!format) throw new ModelpressError(`${file}: calibration files must be ${Object.keys(CALIBRATION_FORMATS).join(', ')} (got '${extension || 'no extension'}')`);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelpressError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${messageOf(error)})`}`);
  }
  const inputs = modelInputs.map(describeInput);
  const samples = format.read(bytes, file, inputs).flatMap((raw, index, all) => expandSample(raw, inputs, all.length > 1 ? `${file}: sample ${index}` : file));
  if (samples.length === 0) throw new ModelpressError(`${file}: holds no samples`);
  return { source: file, samples };
}
