import { UsageError } from '../errors.js';
import type { OnnxModel } from '../onnx/onnx-model.js';
import type { Logger } from '../terminal/logger.js';
import type { TfjsModel, TfjsWeightEntry } from '../tfjs/load-tfjs-model.js';
import type { TfjsModelJson } from '../tfjs/model-json.js';
import { bnb4Variant, quantizeBnb4 } from './onnx/bnb4.js';
import { convertToHalfPrecision } from './onnx/float16-conversion.js';
import { quantizeInt4Blockwise } from './onnx/int4-blockwise.js';
import { quantizeInt8Dynamic } from './onnx/int8-dynamic.js';
import { quantizeInt8Static } from './onnx/int8-static.js';
import { quantizeInt8WeightOnly } from './onnx/int8-weight-only.js';
import type { QuantizeOptions } from './quantize-options.js';
import type { TensorDecision } from './quantize-report.js';
import { quantizeTfjsWeights } from './tfjs/tfjs-weight-quantization.js';

/**
 * Every --scheme, declared once: what it is, which formats it rewrites and the function that does it.
 * A scheme's ONNX rewrite changes the graph at once and registers the new tensors' bytes as producers on
 * the model (see deferred-quantization.ts), so the save streams them one weight at a time.
 */

export interface OnnxSchemeContext {
  model: OnnxModel;
  options: QuantizeOptions;
  log: Logger;
}

export interface TfjsSchemeContext {
  model: TfjsModel;
  options: QuantizeOptions;
  log: Logger;
}

export interface TfjsSchemeResult {
  decisions: TensorDecision[];
  modelJson: TfjsModelJson;
  weights: AsyncIterable<TfjsWeightEntry> | Iterable<TfjsWeightEntry>;
  notes: string[];
}

export interface QuantizationScheme {
  name: string;
  aliases?: string[];
  summary: string;
  needsCalibration?: boolean;
  /** --algo values it takes (default: rtn only); calibration-aware ones need the rows-are-input-features layout. */
  algorithms?: string[];
  onnx?: (context: OnnxSchemeContext) => Promise<TensorDecision[]>;
  tfjs?: (context: TfjsSchemeContext) => Promise<TfjsSchemeResult>;
}

export const QUANTIZATION_SCHEMES: QuantizationScheme[] = [
  {
    name: 'int8',
    summary: 'int8 weights (per-channel by default) dequantized by DequantizeLinear before MatMul/Gemm/Conv',
    algorithms: ['rtn', 'gptq'],
    onnx: quantizeInt8WeightOnly,
  },
  { name: 'int8-dynamic', summary: 'int8 weights, activations quantized at run time (MatMulInteger / ConvInteger u8u8)', onnx: quantizeInt8Dynamic },
  {
    name: 'int8-static',
    summary: 'QDQ int8 activations and weights, ranges calibrated with --calibration (minmax, percentile, entropy)',
    needsCalibration: true,
    onnx: quantizeInt8Static,
  },
  {
    name: 'int4',
    summary: 'block-wise 4-bit weights: com.microsoft MatMulNBits (--format ort) or DequantizeLinear-21 (--format qdq)',
    algorithms: ['rtn', 'gptq'],
    onnx: quantizeInt4Blockwise,
  },
  { name: 'nf4', summary: 'NormalFloat4 code book, com.microsoft MatMulBnb4 (QLoRA; --double-quant)', onnx: bnb4Variant('nf4', quantizeBnb4) },
  { name: 'fp4', summary: 'FP4 (e2m1) code book, com.microsoft MatMulBnb4 (--double-quant)', onnx: bnb4Variant('fp4', quantizeBnb4) },
  { name: 'fp16', aliases: ['float16'], summary: 'float16 weights and compute (ONNX); float16 weight storage (TF.js)', onnx: convertToHalfPrecision, tfjs: quantizeTfjsWeights },
  { name: 'bf16', aliases: ['bfloat16'], summary: 'bfloat16 weights and compute', onnx: convertToHalfPrecision },
  { name: 'uint8', summary: 'TF.js uint8 affine weight storage, as tfjs-converter --quantize_uint8', tfjs: quantizeTfjsWeights },
  { name: 'uint16', summary: 'TF.js uint16 affine weight storage, as tfjs-converter --quantize_uint16', tfjs: quantizeTfjsWeights },
];

export function quantizationScheme(name: string): QuantizationScheme {
  const scheme = QUANTIZATION_SCHEMES.find((candidate) => candidate.name === name || candidate.aliases?.includes(name));
  if (!scheme) {
    throw new UsageError(`unknown --scheme '${name}' (available: ${QUANTIZATION_SCHEMES.map((candidate) => candidate.name).join(', ')})`);
  }
  return scheme;
}
