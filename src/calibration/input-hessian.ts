import { withActivationProbe } from './activation-probe.js';
import type { CalibrationSet } from './calibration-set.js';
import type { OnnxModel } from '../onnx/onnx-model.js';

/**
 * The second moment of a layer's input features, H = E[x x^T], over the calibration samples: what GPTQ
 * needs to spread a weight's rounding error onto the features that can absorb it. A "feature vector" is
 * what one output position of the layer reads: a row of MatMul's A, or one im2col patch of a Conv (input
 * channels x kernel taps, in the weight's own [C/group, k...] order), one matrix per group of a grouped Conv.
 */

export interface FeatureExtractor {
  /** Length of one feature vector. */
  features: number;
  /** Number of independent groups (a grouped Conv's groups; 1 otherwise), each with its own matrix. */
  groups: number;
  /** Calls `visit(group, vector)` for every feature vector in one activation tensor. */
  forEachVector(values: Float32Array, dims: readonly number[], visit: (group: number, vector: Float64Array) => void): void;
}

/** Rows of the last axis: MatMul's A [..., K]. */
export function lastAxisRows(features: number): FeatureExtractor {
  return {
    features,
    groups: 1,
    forEachVector(values, dims, visit) {
      if (dims.at(-1) !== features) return;
      const vector = new Float64Array(features);
      for (let start = 0; start < values.length; start += features) {
        for (let k = 0; k < features; k++) vector[k] = values[start + k]!;
        visit(0, vector);
      }
    },
  };
}

/** Columns of a [K, M] matrix: Gemm's A with transA = 1. */
export function firstAxisColumns(features: number): FeatureExtractor {
  return {
    features,
    groups: 1,
    forEachVector(values, dims, visit) {
      if (dims.length !== 2 || dims[0] !== features) return;
      const columns = dims[1]!;
      const vector = new Float64Array(features);
      for (let column = 0; column < columns; column++) {
        for (let k = 0; k < features; k++) vector[k] = values[k * columns + column]!;
        visit(0, vector);
      }
    },
  };
}

export interface Conv2dGeometry {
  groups: number;
  /** Input channels per group (the weight's second dimension). */
  groupChannels: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right], as ONNX's pads [x1_begin, x2_begin, x1_end, x2_end]. */
  pads: [number, number, number, number];
}

/** im2col patches of a 2-D Conv's input [N, C, H, W], zero padding included, per group. */
export function conv2dPatches(geometry: Conv2dGeometry): FeatureExtractor {
  const { groups, groupChannels, kernel, strides, dilations, pads } = geometry;
  const taps = kernel[0] * kernel[1];
  const features = groupChannels * taps;
  return {
    features,
    groups,
    forEachVector(values, dims, visit) {
      if (dims.length !== 4 || dims[1] !== groups * groupChannels) return;
      const [batch, channels, height, width] = dims as [number, number, number, number];
      const outHeight = Math.floor((height + pads[0] + pads[2] - dilations[0] * (kernel[0] - 1) - 1) / strides[0]) + 1;
      const outWidth = Math.floor((width + pads[1] + pads[3] - dilations[1] * (kernel[1] - 1) - 1) / strides[1]) + 1;
      const vector = new Float64Array(features);
      for (let n = 0; n < batch; n++) {
        for (let group = 0; group < groups; group++) {
          for (let oy = 0; oy < outHeight; oy++) {
            for (let ox = 0; ox < outWidth; ox++) {
              for (let c = 0; c < groupChannels; c++) {
                const plane = (n * channels + group * groupChannels + c) * height * width;
                for (let ky = 0; ky < kernel[0]; ky++) {
                  const y = oy * strides[0] - pads[0] + ky * dilations[0];
                  for (let kx = 0; kx < kernel[1]; kx++) {
                    const x = ox * strides[1] - pads[1] + kx * dilations[1];
                    vector[c * taps + ky * kernel[1] + kx] = y >= 0 && y < height && x >= 0 && x < width ? values[plane + y * width + x]! : 0;
                  }
                }
              }
              visit(group, vector);
            }
          }
        }
      }
    },
  };
}

/** H = E[x x^T] per group, row-major [features x features]. */
export interface InputHessian {
  features: number;
  /** One matrix per group. */
  matrices: Float64Array[];
  /** Feature vectors averaged. */
  count: number;
}

export interface HessianRequest {
  /** The activation (a main-graph value) the layer reads. */
  tensor: string;
  extractor: FeatureExtractor;
}

/** Accumulates every request's matrix over the calibration samples in one pass of the float model. */
export async function collectInputHessians(model: OnnxModel, requests: Map<string, HessianRequest>, calibration: CalibrationSet): Promise<Map<string, InputHessian>> {
  const byTensor = new Map<string, Array<[string, HessianRequest]>>();
  for (const entry of requests) byTensor.set(entry[1].tensor, [...(byTensor.get(entry[1].tensor) ?? []), entry]);
  const sums = new Map<string, { matrices: Float64Array[]; counts: number[] }>();
  for (const [key, request] of requests) {
    const size = request.extractor.features;
    sums.set(key, { matrices: Array.from({ length: request.extractor.groups }, () => new Float64Array(size * size)), counts: new Array(request.extractor.groups).fill(0) });
  }
  if (byTensor.size) {
    await withActivationProbe(model, [...byTensor.keys()], (probe) =>
      probe.forEachSample(calibration, (tensor, values, dims) => {
        for (const [key, request] of byTensor.get(tensor) ?? []) {
          const sum = sums.get(key)!;
          const size = request.extractor.features;
          request.extractor.forEachVector(values, dims, (group, vector) => {
            addOuterProduct(sum.matrices[group]!, vector, size);
            sum.counts[group]!++;
          });
        }
      }),
    );
  }
  const result = new Map<string, InputHessian>();
  for (const [key, { matrices, counts }] of sums) {
    if (counts.some((count) => count === 0)) continue;
    const features = requests.get(key)!.extractor.features;
    for (const [group, matrix] of matrices.entries()) {
      // Only the upper triangle was summed; mirror it and average.
      for (let i = 0; i < features; i++) {
        for (let j = i; j < features; j++) {
          const mean = matrix[i * features + j]! / counts[group]!;
          matrix[i * features + j] = mean;
          matrix[j * features + i] = mean;
        }
      }
    }
    result.set(key, { features, matrices, count: counts[0]! });
  }
  return result;
}

function addOuterProduct(matrix: Float64Array, vector: Float64Array, size: number): void {
  for (let i = 0; i < size; i++) {
    const value = vector[i]!;
    if (value === 0) continue;
    const row = i * size;
    for (let j = i; j < size; j++) matrix[row + j]! += value * vector[j]!;
  }
}
