import type { ExternalDataMode } from '../onnx/save-onnx.js';
import type { TensorEngine } from '../engine/tensor-engine.js';
import type { Logger } from '../terminal/logger.js';
import type { ProgressFactory } from '../terminal/progress.js';
import type { QualityGates } from './quality-gates.js';
import type { QuantizeOptions } from './quantize-options.js';

/** One quantize run as the command hands it to the library. */
export interface QuantizeRequest {
  input: string;
  output: string;
  options: QuantizeOptions;
  force: boolean;
  /** ONNX: where weights go (auto: external when the input had external data or the model passes 2 GiB). */
  externalData: ExternalDataMode;
  dataFileName?: string;
  /** Run original and quantized models and measure output error (--no-verify turns it off). */
  verify: boolean;
  verifySamples: number;
  /** --shape overrides for symbolic input dimensions. */
  shapes: Record<string, number[]>;
  gates: QualityGates;
  /** Keep the most damaging weights float until the output cosine reaches this (--target-cosine). */
  targetCosine?: number;
  log: Logger;
  /** A progress bar for the save, where each weight is quantized (no-op off a terminal). */
  progress?: ProgressFactory;
  /** The tensor engine (--device), for work that runs on tfjs: TF.js verification. Loaded only when needed. */
  engine?: () => Promise<TensorEngine>;
}
