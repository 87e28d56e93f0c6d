import type { AccuracyTargetResult } from './accuracy-target.js';

/** What a quantize run did to each weight, and what it cost: the summary printed and the --report JSON. */

export interface TensorDecision {
  weight: string;
  /** The node consuming it (for skipped weights, the one that made it ineligible, if any). */
  node?: string;
  opType?: string;
  action: 'quantized' | 'skipped';
  /** Why a weight was skipped ("excluded by --exclude", "shared with Gather", "not float32", ...). */
  reason?: string;
  /** How it was stored, e.g. "int4 block 32 MatMulNBits", "uint8 affine". */
  storage?: string;
  elements: number;
  bytesBefore: number;
  /** Bytes of everything that replaces it: packed codes, scales, zero points. */
  bytesAfter: number;
  /** Scheme-specific facts, e.g. { outlierFeatures: 3 }. */
  detail?: Record<string, number | string | boolean>;
}

export interface OutputError {
  output: string;
  cosine: number;
  maxAbsError: number;
  meanAbsError: number;
  /** Share of positions whose argmax over the last axis agrees; present for classifier-like outputs. */
  top1Agreement?: number;
}

export interface VerificationResult {
  /** Where the inputs came from: 'calibration' (file) or 'generated' (seeded random from input shapes). */
  inputs: 'calibration' | 'generated';
  samples: number;
  outputs: OutputError[];
}

export interface QuantizeReport {
  input: string;
  output: string;
  format: 'onnx' | 'tfjs';
  scheme: string;
  algo: string;
  tensors: { quantized: number; skipped: number; decisions: TensorDecision[] };
  /** Total bytes on disk, model file plus external data / shards. */
  size: { before: number; after: number; ratio: number };
  verification?: VerificationResult;
  /** Notes for the user, e.g. that tfjs dequantizes on load. */
  notes: string[];
  /** The --target-cosine search: which weights it kept float and what the output cosine became. */
  accuracyTarget?: AccuracyTargetResult;
  /** CI gates that failed (--max-error, --min-cosine); non-empty makes the command exit 1. */
  failedGates: string[];
}
