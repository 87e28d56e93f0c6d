import { probeableValues, withActivationProbe } from '../../calibration/activation-probe.js';
import { observeRanges } from '../../calibration/activation-statistics.js';
import { ModelpressError } from '../../errors.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import { weightAlgorithm, withCalibration } from '../algorithms/weight-algorithms.js';
import { int8WeightGrid } from '../kernels/int8-grids.js';
import type { QuantizeOptions } from '../quantize-options.js';
import type { TensorDecision } from '../quantize-report.js';
import type { OnnxSchemeContext } from '../schemes.js';
import { OutlierFeatures, outlierSplitBlocker, selectOutlierFeatures, splitOutlierMatMul } from './outlier-split.js';
import {
  chooseSpelling,
  commonChannelAxis,
  DEQUANTIZE_SPELLINGS,
  dequantizeWeightGroup,
  findWeightGroups,
  skippedGroup,
  sortTouchedGraphs,
  WeightGroup,
} from './qdq-weights.js';
import { ValueNames } from '../../onnx/value-names.js';
import { planBiasCorrections } from './bias-correction.js';
import { collectWeightHessians } from './weight-hessians.js';
import type { WeightUse } from './weight-uses.js';

/**
 * --scheme int8: weights stored as int8 (symmetric, the default) or uint8 (--asymmetric), one scale per
 * output channel (default) or per tensor, each dequantized in front of its MatMul/Gemm/Conv. Activations
 * stay float, so any runtime runs the result; it shrinks weights 4x. With --outlier-threshold, MatMul input
 * features with calibrated activations above it keep their weight rows in float (outlier-split.ts). With
 * calibration data, each layer's bias is corrected for the mean shift its rounded weight causes
 * (bias-correction.ts; --no-bias-correction turns it off).
 */

const WEIGHT_INPUTS = { MatMul: 1, Gemm: 1, Conv: 1 };

/** Ranks the dequantization's broadcast and channel axis assume. */
export function int8WeightCheck(use: WeightUse): string | undefined {
  if (use.node.op_type === 'Conv' && use.dims.length < 3) return `Conv weight of rank ${use.dims.length}, expected 3 or more`;
  if (use.node.op_type !== 'Conv' && use.dims.length < 2) return `${use.node.op_type} weight of rank ${use.dims.length}, expected 2 or more`;
  return undefined;
}

/** MatMul weights whose input features have activations above --outlier-threshold, from calibration. */
async function findOutlierFeatures(model: OnnxModel, groups: WeightGroup[], options: QuantizeOptions): Promise<Map<WeightGroup, OutlierFeatures>> {
  const threshold = options.outlierThreshold;
  if (threshold === undefined) return new Map();
  if (!options.calibration) throw new ModelpressError('--outlier-threshold needs --calibration FILE: outlier features are found from calibrated activations');
  const probeable = probeableValues(model.proto);
  const candidates = groups.filter((group) => group.uses.length === 1 && group.uses[0]!.node.op_type === 'MatMul' && probeable.has(group.uses[0]!.node.input![0]!));
  const activations = new Set(candidates.map((group) => group.uses[0]!.node.input![0]!));
  if (activations.size === 0) return new Map();
  const observed = await withActivationProbe(model, [...activations], (probe) => observeRanges(probe, options.calibration!, activations));
  return new Map(candidates.map((group) => [group, selectOutlierFeatures(observed.get(group.uses[0]!.node.input![0]!)!, threshold)]));
}

export async function quantizeInt8WeightOnly(context: OnnxSchemeContext): Promise<TensorDecision[]> {
  const { model, options, log } = context;
  const grid = int8WeightGrid(options.symmetric);
  const algorithm = weightAlgorithm(options.algo);
  const { groups, skipped } = findWeightGroups(model, WEIGHT_INPUTS, options.selection, int8WeightCheck);
  const outliers = await findOutlierFeatures(model, groups, options);
  const decisions: TensorDecision[] = [...skipped];
  const valueNames = new ValueNames(model.proto);
  const biasCorrection = options.calibration && options.biasCorrection ? await planBiasCorrections(model, valueNames, groups, options.calibration) : undefined;
  const hessians = algorithm.needsCalibration && options.calibration ? await collectWeightHessians(model, groups.flatMap((group) => group.uses), options.calibration) : undefined;
  for (const group of groups) {
    const axis = options.perChannel ? commonChannelAxis(group) : undefined;
    if (typeof axis === 'string') {
      decisions.push(skippedGroup(group, axis));
      continue;
    }
    // DequantizeLinear where the opset can say it; Cast+Mul (same arithmetic, any runtime) where it cannot.
    const spelling = chooseSpelling(model.proto, axis !== undefined, [DEQUANTIZE_SPELLINGS.onnx, DEQUANTIZE_SPELLINGS.castMul]);
    if (typeof spelling === 'string') {
      decisions.push(skippedGroup(group, spelling));
      continue;
    }
    const encoding = { grid, algorithm, spelling };
    const features = outliers.get(group);
    // GPTQ's rows are input features: a per-channel layout; one scale for the whole tensor has none.
    const calibration = axis === undefined ? undefined : hessians?.calibrations.get(group.weight.name ?? '');
    const blocker = features?.outliers.length ? outlierSplitBlocker(model, group, features) : undefined;
    if (features?.outliers.length && !blocker) {
      if (features.rest.length === 0) {
        decisions.push(skippedGroup(group, `all ${features.outliers.length} input features exceed --outlier-threshold`));
        continue;
      }
      decisions.push(splitOutlierMatMul(model, valueNames, group, features, encoding, options.perChannel));
      continue;
    }
    const correction = await biasCorrection?.companionFor(group);
    const decision = dequantizeWeightGroup(model, valueNames, group, axis, { ...encoding, algorithm: withCalibration(algorithm, calibration) }, correction);
    if (correction) decision.detail = { ...decision.detail, biasCorrected: true };
    if (hessians) decision.detail = { ...decision.detail, algorithm: calibration ? algorithm.name : (hessians.reasons.get(group.weight.name ?? '') ?? 'round to nearest: per-tensor') };
    if (features) {
      decision.detail = { ...decision.detail, outlierFeatures: 0 };
      if (blocker) {
        decision.detail.outlierSplit = `not split: ${blocker}`;
        log.warn(`${group.weight.name}: ${features.outliers.length} outlier features not kept float (${blocker})`);
      }
    }
    decisions.push(decision);
  }
  sortTouchedGraphs(groups);
  return decisions;
}
