import { UsageError } from '../../errors.js';
import type { OnnxGraph } from '../../onnx/graph.js';
import { ValueNames } from '../../onnx/value-names.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { NodeProto, TensorProto } from '../../onnx/onnx-proto.js';
import { tensorByteLength, tensorDims, tensorElementCount } from '../../onnx/tensor-data.js';
import type { Logger } from '../../terminal/logger.js';
import type { WeightAlgorithm } from '../algorithms/weight-algorithms.js';
import { weightAlgorithm, withCalibration } from '../algorithms/weight-algorithms.js';
import { collectWeightHessians } from './weight-hessians.js';
import type { Int4Format, QuantizeOptions } from '../quantize-options.js';
import type { TensorDecision } from '../quantize-report.js';
import type { OnnxSchemeContext } from '../schemes.js';
import { GATHER_TO_GATHER_BLOCK_QUANTIZED } from './gather-block-quantized.js';
import { MATMUL_TO_BLOCKED_DEQUANTIZE_LINEAR } from './int4-dequantize-linear.js';
import { MATMUL_TO_MATMUL_NBITS } from './matmul-nbits.js';
import type { WeightUse } from './weight-uses.js';
import { findWeightUses } from './weight-uses.js';

/**
 * --scheme int4: block-wise 4-bit weight-only quantization. Which op replaces which depends on
 * --format (the INT4_FORMATS table); the grids are in kernels/int4-grids.ts and the byte layouts in
 * kernels/nibble-packing.ts. Every rewrite changes the graph now and computes the packed bytes at save
 * time, one weight at a time.
 */

/** onnxruntime's MatMulNBits and GatherBlockQuantized take powers of two from 16; larger blocks lose accuracy fast. */
export const INT4_BLOCK_SIZES = [16, 32, 64, 128, 256];
export const DEFAULT_INT4_BLOCK_SIZE = 32;
/** MatMulNBits accuracy_level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 (ContribOperators.md). */
const ACCURACY_LEVELS = [0, 1, 2, 3, 4];
/**
 * Without an accuracy_level, onnxruntime's CPU kernel dequantizes B and runs an fp32 GEMM, slower than the
 * float model for prompts (measured here: 1.02-1.27x float at seq 128); level 4 quantizes A to int8 per
 * block and uses the int8 dot-product path (VNNI / SDOT), 0.75x float. onnxruntime-genai's model builder
 * asks for 4 on CPU too. GPU providers ignore it.
 */
const DEFAULT_ACCURACY_LEVEL = 4;

export interface Int4Settings {
  blockSize: number;
  /** Implicit zero point (8 for MatMulNBits/GatherBlockQuantized, none for int4 QDQ) instead of one per block. */
  symmetric: boolean;
  algorithm: WeightAlgorithm;
  accuracyLevel?: number;
}

/** One weight to rewrite, with every node that reads it. */
export interface Int4Target {
  weight: TensorProto;
  dims: number[];
  /** The graph holding the weight's initializer (it is removed from there). */
  owner: OnnxGraph;
  /**
   * Where the quantized tensors go: the consumers' graph when they all sit in one (so an If branch keeps
   * its weights to itself, which onnxruntime's DequantizeLinear->MatMulNBits fusion needs), else `owner`.
   */
  home: OnnxGraph;
  /** Each consuming node with the graph it sits in (a subgraph when it reads an outer-scope weight). */
  consumers: Array<{ graph: OnnxGraph; node: NodeProto }>;
  /** A value name unused anywhere in the model (subgraphs included), reserved on return. */
  uniqueName(base: string): string;
}

export interface Int4Preparation {
  /** Set when the model cannot take this rewrite at all: every weight it would touch is skipped with it. */
  skipReason?: string;
  /** Facts recorded on each decision of this rewrite (e.g. an opset raise). */
  detail?: Record<string, string | number | boolean>;
}

/** One op rewrite: which weight input it takes over, when it cannot, and how. */
export interface Int4Rewriter {
  opType: string;
  inputIndex: number;
  /** Why this use cannot be rewritten (shape, attributes), or undefined. */
  skipReason(use: WeightUse): string | undefined;
  /** Model-wide changes the rewrite needs, made once before the first weight; may refuse. */
  prepare?(model: OnnxModel, log: Logger): Int4Preparation;
  rewrite(model: OnnxModel, target: Int4Target, settings: Int4Settings): TensorDecision;
}

/**
 * 'ort': com.microsoft MatMulNBits and, for embeddings, GatherBlockQuantized (onnxruntime only, real 4-bit
 * kernels). 'qdq': standard DequantizeLinear-21 with block_size before MatMul (portable; embeddings stay
 * float, since a DequantizeLinear before Gather would expand the whole table at every run).
 */
export const INT4_FORMATS: Record<Int4Format, Int4Rewriter[]> = {
  ort: [MATMUL_TO_MATMUL_NBITS, GATHER_TO_GATHER_BLOCK_QUANTIZED],
  qdq: [MATMUL_TO_BLOCKED_DEQUANTIZE_LINEAR],
};

export function int4Settings(options: QuantizeOptions): Int4Settings {
  const blockSize = options.blockSize ?? DEFAULT_INT4_BLOCK_SIZE;
  if (!INT4_BLOCK_SIZES.includes(blockSize)) {
    throw new UsageError(`--block-size ${blockSize} is not supported by int4 (use ${INT4_BLOCK_SIZES.join(', ')})`);
  }
  if (options.accuracyLevel !== undefined && !ACCURACY_LEVELS.includes(options.accuracyLevel)) {
    throw new UsageError(`--accuracy-level ${options.accuracyLevel} is not a MatMulNBits accuracy level (use ${ACCURACY_LEVELS.join(', ')})`);
  }
  if (!Object.hasOwn(INT4_FORMATS, options.int4Format)) {
    throw new UsageError(`--format '${options.int4Format}' is unknown (use ${Object.keys(INT4_FORMATS).join(' or ')})`);
  }
  const accuracyLevel = options.accuracyLevel ?? DEFAULT_ACCURACY_LEVEL;
  // Level 0 means "unset": leave the attribute out, as onnxruntime's own quantizer does.
  return { blockSize, symmetric: options.symmetric ?? false, algorithm: weightAlgorithm(options.algo), accuracyLevel: accuracyLevel === 0 ? undefined : accuracyLevel };
}

export async function quantizeInt4Blockwise(context: OnnxSchemeContext): Promise<TensorDecision[]> {
  const { model, options, log } = context;
  const settings = int4Settings(options);
  const rewriters = INT4_FORMATS[options.int4Format];
  if (options.int4Format === 'qdq' && options.accuracyLevel) {
    log.warn('--accuracy-level applies to MatMulNBits only; it is ignored with --format qdq');
  }
  const rewriterOf = new Map(rewriters.map((rewriter) => [rewriter.opType, rewriter]));
  const search = findWeightUses(model, {
    inputs: Object.fromEntries(rewriters.map((rewriter) => [rewriter.opType, rewriter.inputIndex])),
    selection: options.selection,
    check: (use) => rewriterOf.get(use.node.op_type ?? '')?.skipReason(use),
  });

  const decisions: TensorDecision[] = [...search.skipped];
  const names = new ValueNames(model.proto);
  const hessians = settings.algorithm.needsCalibration && options.calibration ? await collectWeightHessians(model, search.eligible, options.calibration) : undefined;
  const preparations = new Map<Int4Rewriter, Int4Preparation>();
  for (const uses of groupByWeight(search.eligible)) {
    const first = uses[0]!;
    const opTypes = [...new Set(uses.map((use) => use.node.op_type ?? ''))];
    if (opTypes.length > 1) {
      decisions.push(skippedDecision(first, `read by both ${opTypes.join(' and ')}: one 4-bit layout cannot serve both`));
      continue;
    }
    const rewriter = rewriterOf.get(opTypes[0]!)!;
    if (!preparations.has(rewriter)) preparations.set(rewriter, rewriter.prepare?.(model, log) ?? {});
    const preparation = preparations.get(rewriter)!;
    if (preparation.skipReason) {
      decisions.push(skippedDecision(first, preparation.skipReason));
      continue;
    }
    const owner = first.weightGraph;
    const consumers = uses.map((use) => ({ graph: use.graph, node: use.node }));
    const consumerGraphs = new Set(consumers.map((consumer) => consumer.graph));
    const target: Int4Target = {
      weight: first.weight,
      dims: tensorDims(first.weight),
      owner,
      home: consumerGraphs.size === 1 ? consumers[0]!.graph : owner,
      consumers,
      uniqueName: (base) => names.fresh(base),
    };
    const calibration = hessians?.calibrations.get(target.weight.name ?? '');
    const decision = rewriter.rewrite(model, target, { ...settings, algorithm: withCalibration(settings.algorithm, calibration) });
    if (preparation.detail) decision.detail = { ...decision.detail, ...preparation.detail };
    if (hessians) decision.detail = { ...decision.detail, algorithm: calibration ? settings.algorithm.name : (hessians.reasons.get(target.weight.name ?? '') ?? 'round to nearest') };
    decisions.push(decision);
  }
  return decisions;
}

/** Uses of the same weight together, in the order the weights were found. */
function groupByWeight(uses: WeightUse[]): WeightUse[][] {
  const groups = new Map<TensorProto, WeightUse[]>();
  for (const use of uses) {
    const group = groups.get(use.weight);
    if (group) group.push(use);
    else groups.set(use.weight, [use]);
  }
  return [...groups.values()];
}

function skippedDecision(use: WeightUse, reason: string): TensorDecision {
  const bytes = tensorByteLength(use.weight) ?? 0;
  return {
    weight: use.weight.name ?? '',
    node: use.node.name,
    opType: use.node.op_type,
    action: 'skipped',
    reason,
    elements: tensorElementCount(use.weight),
    bytesBefore: bytes,
    bytesAfter: bytes,
  };
}

