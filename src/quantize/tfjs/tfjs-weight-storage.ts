import { ModelpressError } from '../../errors.js';
import { floatToHalfBits } from '../../numeric/float16.js';
import type { TfjsQuantization } from '../../tfjs/model-json.js';
import { TFJS_DTYPES } from '../../tfjs/weight-dtypes.js';
import { TFJS_QUANTIZATIONS, type TfjsQuantizationName } from '../../tfjs/weight-quantization.js';
import type { WeightAlgorithm } from '../algorithms/weight-algorithms.js';
import { tfjsAffineGrid, tfjsAffineParameters } from './tfjs-affine-grid.js';

/**
 * How a float32 TF.js weight is stored by each quantization tfjs can decode, declared once. The manifest
 * entries are what tfjs-converter writes (write_weights.py): the spec keeps `dtype: 'float32'` and gains
 * `quantization: {dtype, min, scale, original_dtype}` (affine) or `{dtype: 'float16', original_dtype}`.
 */
export interface TfjsWeightStorage {
  name: TfjsQuantizationName;
  /** The report's storage column. */
  label: string;
  bytesPerElement: number;
  /** Float32 values -> the bytes stored and the spec's `quantization`; `weight` names it in errors. */
  encode(values: Float32Array, algorithm: WeightAlgorithm, weight: string): EncodedTfjsWeight;
}

export interface EncodedTfjsWeight {
  bytes: Uint8Array;
  quantization: TfjsQuantization;
}

export const TFJS_WEIGHT_STORAGE: Record<TfjsQuantizationName, TfjsWeightStorage> = {
  uint8: affineStorage('uint8', 255),
  uint16: affineStorage('uint16', 65535),
  float16: {
    name: 'float16',
    label: 'float16',
    bytesPerElement: storedBytesPerElement('float16'),
    encode(values, _algorithm, weight) {
      const halves = new Uint16Array(values.length);
      for (let index = 0; index < values.length; index++) {
        const half = floatToHalfBits(values[index]!);
        // 0x7c00: exponent all ones, mantissa zero = infinity; the source is finite (checked by the caller).
        if ((half & 0x7fff) === 0x7c00) {
          throw new ModelpressError(
            `weight "${weight}" holds ${values[index]} at element ${index}, beyond float16's range (±65504); keep it float32 with --exclude '${weight}' or use --scheme uint16`,
          );
        }
        halves[index] = half;
      }
      return { bytes: bytesOf(halves), quantization: { dtype: 'float16', original_dtype: 'float32' } };
    },
  },
};

function affineStorage(name: 'uint8' | 'uint16', maxCode: number): TfjsWeightStorage {
  const grid = tfjsAffineGrid(maxCode);
  return {
    name,
    label: `${name} affine per tensor`,
    bytesPerElement: storedBytesPerElement(name),
    encode(values, algorithm, weight) {
      const parameters = tfjsAffineParameters(values, maxCode);
      // tfjs keeps one min/scale per tensor: the whole tensor is one block of one column.
      const quantized = algorithm.quantize(values, { rows: values.length, columns: 1, blockSize: values.length }, grid);
      // The manifest takes the grid's double-precision min and scale, as tfjs-converter writes them; the
      // algorithm's float32 scale is only a check that it chose codes on that same range.
      if (values.length > 0 && quantized.scales[0] !== Math.fround(parameters.scale)) {
        throw new ModelpressError(
          `--algo ${algorithm.name} changed the range of weight "${weight}"; TF.js ${name} storage needs tfjs-converter's min/max range (use --algo rtn)`,
        );
      }
      // Codes come as Int16Array: uint16 codes above 32767 sit there as their two's-complement bit pattern,
      // so a Uint16Array view over the same memory reads them back unchanged.
      const codes = name === 'uint8' ? Uint8Array.from(quantized.codes) : new Uint16Array(quantized.codes.buffer, quantized.codes.byteOffset, quantized.codes.length);
      return {
        bytes: bytesOf(codes),
        quantization: { dtype: name, min: parameters.min, scale: parameters.scale, original_dtype: 'float32' },
      };
    },
  };
}

function storedBytesPerElement(name: TfjsQuantizationName): number {
  return TFJS_DTYPES[TFJS_QUANTIZATIONS[name].storedDtype].bytesPerElement;
}

/** Little-endian on every platform Node runs on, as tfjs reads them through typed arrays. */
function bytesOf(array: Uint8Array | Uint16Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}
