import { probeableValues, withActivationProbe } from '../../calibration/activation-probe.js';
import { observeRanges } from '../../calibration/activation-statistics.js';
import { ActivationTarget, calibrateRanges, CalibratedRange } from '../../calibration/calibration-methods.js';
import { ModelpressError } from '../../errors.js';
import { makeFloatTensor, makeNode, makeTensor } from '../../onnx/builders.js';
import { ONNX_TYPE } from '../../onnx/data-types.js';
import { OnnxGraph, opsetVersion } from '../../onnx/graph.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { NodeProto, TensorProto } from '../../onnx/onnx-proto.js';
import { tensorDims } from '../../onnx/tensor-data.js';
import { weightAlgorithm } from '../algorithms/weight-algorithms.js';
import { roundHalfToEven } from '../../numeric/round-half-to-even.js';
import { INT8_GRIDS, Int8Grid } from '../kernels/int8-grids.js';
import type { TensorDecision } from '../quantize-report.js';
import type { OnnxSchemeContext } from '../schemes.js';
import { bytesOf } from './deferred-quantization.js';
import { int8WeightCheck } from './int8-weight-only.js';
import { OutlierFeatures, outlierSplitBlocker, selectOutlierFeatures, splitOutlierMatMul } from './outlier-split.js';
import {
  chooseSpelling,
  commonChannelAxis,
  DEQUANTIZE_SPELLINGS,
  DequantizeSpelling,
  dequantizeWeightGroup,
  findWeightGroups,
  floatAttribute,
  intAttribute,
  skippedGroup,
  sortTouchedGraphs,
  WeightCompanion,
  WeightGroup,
} from './qdq-weights.js';
import { ValueNames } from '../../onnx/value-names.js';
import type { WeightUse } from './weight-uses.js';
import { raiseOpsetForScheme } from './raise-opset.js';

/**
 * --scheme int8-static: QDQ on both operands of every MatMul/Gemm/Conv with a constant weight. Activations
 * get QuantizeLinear -> DequantizeLinear with a per-tensor scale from calibration (--calibration,
 * --calibration-method); weights are stored int8 symmetric per channel behind a DequantizeLinear. ORT
 * fuses the pattern into QLinearConv / QLinearMatMul / QGemm / MatMulIntegerToFloat at load; any other
 * runtime still computes the same numbers in float.
 *
 * Activations are int8 asymmetric (S8S8): onnxruntime's default for QDQ, which its docs call the first
 * choice, and the only form its GPU/TensorRT paths take; asymmetric because most activations here follow
 * a ReLU/GELU and are far from symmetric. Weights stay symmetric (zero point 0), which ORT's int8 kernels
 * require for per-channel weights. Where the opset predates DequantizeLinear's axis (13), ORT's
 * com.microsoft QuantizeLinear/DequantizeLinear are used. Below opset 10 nothing is quantized: ORT fuses
 * QDQ into QLinearConv/QLinearMatMul, which such a model cannot import.
 */

const WEIGHT_INPUTS = { MatMul: 1, Gemm: 1, Conv: 1 };
const QLINEAR_OPSET = 10;

interface ActivationPlan {
  group: WeightGroup;
  axis: number | undefined;
  /** Outlier features of a split MatMul (--outlier-threshold), when there are some to split. */
  outliers?: OutlierFeatures;
}

/**
 * Conv/Gemm biases as int32 with scale a_scale * w_scale and zero point 0 behind a DequantizeLinear, as
 * onnxruntime's tool writes them (QuantizeBias): ORT's int8 kernels take the bias in that form. Left float,
 * ORT adds a Div/Round/Cast subgraph to quantize it at load (BiasQuantization transformer), and Round does
 * not exist before opset 11, so there a bias that cannot be quantized here keeps its node float.
 */
async function planBiasQuantization(
  model: OnnxModel,
  valueNames: ValueNames,
  group: WeightGroup,
  axis: number | undefined,
  activationScale: number,
  spelling: DequantizeSpelling,
): Promise<{ companion?: WeightCompanion; reason?: string }> {
  const { node, graph } = group.uses[0]!;
  const bias = node.input?.[2];
  if (!bias || (node.op_type !== 'Conv' && node.op_type !== 'Gemm')) return {};
  const tensor = graph.initializer(bias);
  const channels = node.op_type === 'Conv' || intAttribute(node, 'transB', 0) ? group.dims[0]! : group.dims[1]!;
  const why =
    group.uses.length > 1 ? 'its weight is shared'
    : !tensor ? 'its bias is not a constant'
    : graph.consumers(bias).length !== 1 || graph.proto.input!.some((input) => input.name === bias) ? 'its bias is shared'
    : tensor.data_type !== ONNX_TYPE.FLOAT32 || tensorDims(tensor).join() !== `${channels}` ? `its bias is not float32 [${channels}]`
    : node.op_type === 'Gemm' && (floatAttribute(node, 'alpha', 1) !== 1 || floatAttribute(node, 'beta', 1) !== 1) ? 'Gemm alpha/beta scale its bias'
    : undefined;
  if (why) {
    const opset = opsetVersion(model.proto, '') ?? 1;
    return opset < 11 ? { reason: `${why}, and ORT's load-time bias quantization needs Round (opset 11; the model imports ${opset})` } : {};
  }
  const values = await model.tensorAsFloat32(tensor!);
  const scaleDims = axis === undefined ? [] : [channels];
  const codes: TensorProto = { name: valueNames.fresh(`${bias}_quantized`), dims: [channels], data_type: ONNX_TYPE.INT32 };
  const scale: TensorProto = { name: valueNames.fresh(`${bias}_scale`), dims: scaleDims, data_type: ONNX_TYPE.FLOAT32 };
  const output = valueNames.fresh(`${bias}_dequantized`);
  graph.removeInitializer(bias);
  graph.addInitializer(codes);
  graph.addInitializer(scale);
  graph.insertNode(makeNode('DequantizeLinear', [codes.name!, scale.name!], [output], axis === undefined ? {} : { axis: 0 }, { domain: spelling.domain }), node);
  node.input![2] = output;
  return {
    companion: {
      tensors: [codes, scale],
      encode(weightScales) {
        const scales = weightScales.map((weightScale) => Math.fround(weightScale * activationScale));
        const quantized = Int32Array.from(values, (value, channel) => {
          const code = roundHalfToEven(value / scales[axis === undefined ? 0 : channel]!);
          return Math.min(2 ** 31 - 1, Math.max(-(2 ** 31), Number.isFinite(code) ? code : 0));
        });
        return [bytesOf(quantized), bytesOf(scales)];
      },
    },
  };
}

const restKey = (group: WeightGroup) => `${group.uses[0]!.node.input![0]}#rest of ${group.weight.name}`;

/** QuantizeLinear -> DequantizeLinear pairs on activations, one per graph, value and range. */
class ActivationQdq {
  private readonly made = new Map<string, string>();
  private readonly graphIds = new Map<OnnxGraph, number>();

  constructor(
    private readonly valueNames: ValueNames,
    private readonly spelling: DequantizeSpelling,
    private readonly grid: Int8Grid,
    private readonly ranges: Map<string, CalibratedRange>,
  ) {}

  /** The dequantized value `consumer` should read instead of `value`, quantized over range `key`. */
  insert(graph: OnnxGraph, value: string, key: string, consumer: NodeProto): string {
    if (!this.graphIds.has(graph)) this.graphIds.set(graph, this.graphIds.size);
    const id = `${this.graphIds.get(graph)}:${key}`;
    const existing = this.made.get(id);
    if (existing) return existing;
    const range = this.ranges.get(key)!;
    const { scale, zeroPoint } = this.grid.fromRange(range.min, range.max);
    const names = {
      scale: this.valueNames.fresh(`${value}_scale`),
      zeroPoint: this.valueNames.fresh(`${value}_zero_point`),
      quantized: this.valueNames.fresh(`${value}_quantized`),
      output: this.valueNames.fresh(`${value}_dequantized`),
    };
    graph.addInitializer(makeFloatTensor(names.scale, [], [scale]));
    graph.addInitializer(makeTensor(names.zeroPoint, this.grid.dataType, [], Int8Array.of(zeroPoint)));
    const domain = { domain: this.spelling.domain };
    graph.insertNode(makeNode('QuantizeLinear', [value, names.scale, names.zeroPoint], [names.quantized], {}, domain), consumer);
    graph.insertNode(makeNode('DequantizeLinear', [names.quantized, names.scale, names.zeroPoint], [names.output], {}, domain), consumer);
    this.made.set(id, names.output);
    return names.output;
  }
}

export async function quantizeInt8Static(context: OnnxSchemeContext): Promise<TensorDecision[]> {
  const { model, options, log } = context;
  const calibration = options.calibration;
  if (!calibration) throw new ModelpressError('--scheme int8-static needs --calibration FILE: representative inputs to measure activation ranges on');
  if (options.symmetric === false) log.warn('int8-static keeps weights symmetric int8 (ORT\'s int8 kernels need weight zero point 0); --asymmetric is ignored');
  raiseOpsetForScheme(context, 11, 'onnxruntime runs QDQ as QLinearConv/QLinearMatMul from opset 10 and quantizes biases with Round from 11');
  const weightGrid = INT8_GRIDS.int8Symmetric;
  const activationGrid = INT8_GRIDS.int8Asymmetric;
  const spelling = chooseSpelling(model.proto, options.perChannel, [DEQUANTIZE_SPELLINGS.onnx, DEQUANTIZE_SPELLINGS.microsoft]) as DequantizeSpelling;
  const encoding = { grid: weightGrid, algorithm: weightAlgorithm(options.algo), spelling };

  const opset = opsetVersion(model.proto, '') ?? 1;
  const probeable = probeableValues(model.proto);
  const check = (use: WeightUse) => {
    // ORT fuses QDQ (com.microsoft's too) into QLinearConv/QLinearMatMul of the ONNX domain, which opset < 10
    // cannot import: the session would refuse the model. Upgrading the opset is a rewrite of its own.
    if (opset < QLINEAR_OPSET) return `onnxruntime turns QDQ into QLinearConv/QLinearMatMul, which need ONNX opset ${QLINEAR_OPSET}; the model imports ${opset} (upgrade its opset first)`;
    const activation = use.node.input![0]!;
    if (!probeable.has(activation)) return `its input '${activation}' is computed inside a subgraph, where calibration cannot watch it`;
    if (use.graph.initializer(activation)) return `its input '${activation}' is a constant too`;
    return int8WeightCheck(use);
  };
  const { groups, skipped } = findWeightGroups(model, WEIGHT_INPUTS, options.selection, check);
  const decisions: TensorDecision[] = [...skipped];
  const plans: ActivationPlan[] = [];
  for (const group of groups) {
    const axis = options.perChannel ? commonChannelAxis(group) : undefined;
    if (typeof axis === 'string') decisions.push(skippedGroup(group, axis));
    else plans.push({ group, axis });
  }
  if (plans.length === 0) return decisions;
  const activationOf = (plan: ActivationPlan) => plan.group.uses.map((use) => use.node.input![0]!);
  const splittable = (plan: ActivationPlan) => options.outlierThreshold !== undefined && plan.group.uses.length === 1 && plan.group.uses[0]!.node.op_type === 'MatMul';
  const watched = [...new Set(plans.flatMap(activationOf))];
  const perFeature = new Set(plans.filter(splittable).flatMap(activationOf));

  const ranges = await withActivationProbe(model, watched, async (probe) => {
    const observed = await observeRanges(probe, calibration, perFeature);
    const targets: ActivationTarget[] = watched.map((tensor) => ({ key: tensor, tensor }));
    for (const plan of plans.filter(splittable)) {
      const features = selectOutlierFeatures(observed.get(activationOf(plan)[0]!)!, options.outlierThreshold!);
      if (features.outliers.length === 0) continue;
      const blocker = outlierSplitBlocker(model, plan.group, features);
      if (blocker) {
        log.warn(`${plan.group.weight.name}: ${features.outliers.length} outlier features not kept float (${blocker})`);
        continue;
      }
      plan.outliers = features;
      if (features.rest.length) targets.push({ key: restKey(plan.group), tensor: activationOf(plan)[0]!, excludedFeatures: features.mask });
    }
    return calibrateRanges(probe, calibration, targets, observed, options.calibrationMethod, { percentile: options.percentile });
  });

  const valueNames = new ValueNames(model.proto);
  const qdq = new ActivationQdq(valueNames, spelling, activationGrid, ranges);
  for (const plan of plans) {
    const { group } = plan;
    const activation = activationOf(plan)[0]!;
    if (plan.outliers && plan.outliers.rest.length === 0) {
      decisions.push(skippedGroup(group, `all ${plan.outliers.outliers.length} input features exceed --outlier-threshold`));
      continue;
    }
    let decision: TensorDecision;
    let range: CalibratedRange;
    if (plan.outliers) {
      const key = restKey(group);
      decision = splitOutlierMatMul(model, valueNames, group, plan.outliers, encoding, options.perChannel, (graph, restValue, consumer) => qdq.insert(graph, restValue, key, consumer));
      range = ranges.get(key)!;
    } else {
      range = ranges.get(activation)!;
      const bias = await planBiasQuantization(model, valueNames, group, plan.axis, activationGrid.fromRange(range.min, range.max).scale, spelling);
      if (bias.reason) {
        decisions.push(skippedGroup(group, bias.reason));
        continue;
      }
      for (const use of group.uses) use.node.input![0] = qdq.insert(use.graph, use.node.input![0]!, use.node.input![0]!, use.node);
      decision = dequantizeWeightGroup(model, valueNames, group, plan.axis, encoding, bias.companion);
      if (splittable(plan)) decision.detail = { outlierFeatures: 0 };
    }
    decision.storage += `, activation ${activationGrid.name} (${options.calibrationMethod})`;
    decision.detail = { ...decision.detail, activation, activationMin: range.min, activationMax: range.max };
    decisions.push(decision);
  }
  sortTouchedGraphs(groups);
  return decisions;
}
