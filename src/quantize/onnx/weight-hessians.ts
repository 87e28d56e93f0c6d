import { probeableValues } from '../../calibration/activation-probe.js';
import type { CalibrationSet } from '../../calibration/calibration-set.js';
import { collectInputHessians, conv2dPatches, firstAxisColumns, lastAxisRows, type FeatureExtractor, type HessianRequest } from '../../calibration/input-hessian.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { NodeProto } from '../../onnx/onnx-proto.js';
import { GPTQ_MAX_FEATURES } from '../algorithms/gptq.js';
import type { WeightCalibration } from '../algorithms/quantization-grid.js';
import { intAttribute } from './qdq-weights.js';
import type { WeightUse } from './weight-uses.js';

/**
 * Input Hessians for the weights a calibration-aware algorithm (--algo gptq) quantizes, collected in one
 * pass of the float model before the graph is rewritten. Keyed by weight name; a weight missing from the
 * result is quantized by round to nearest, and `reasons` says why (for the report).
 */
export interface WeightHessians {
  calibrations: Map<string, WeightCalibration>;
  reasons: Map<string, string>;
}

function hessianBytes(extractor: FeatureExtractor): number {
  return extractor.features ** 2 * extractor.groups * Float64Array.BYTES_PER_ELEMENT;
}

/** How each op's data input becomes feature vectors in the weight's row order (MatMul's B layout). */
const FEATURE_EXTRACTORS: Record<string, (node: NodeProto, dims: number[]) => FeatureExtractor | string> = {
  MatMul: (_node, dims) => (dims.length === 2 ? lastAxisRows(dims[0]!) : `a ${dims.length}-D MatMul weight`),
  Gemm: (node, dims) => {
    const features = intAttribute(node, 'transB', 0) ? dims[1]! : dims[0]!;
    return intAttribute(node, 'transA', 0) ? firstAxisColumns(features) : lastAxisRows(features);
  },
  Conv: (node, dims) => {
    if (dims.length !== 4) return `a ${dims.length - 2}-D Conv (GPTQ handles 2-D)`;
    const autoPad = node.attribute?.find((attribute) => attribute.name === 'auto_pad')?.s;
    if (autoPad && new TextDecoder().decode(autoPad) !== 'NOTSET') return 'a Conv with auto_pad';
    const ints = (name: string, fallback: number[]) => node.attribute?.find((attribute) => attribute.name === name)?.ints?.map(Number) ?? fallback;
    const pads = ints('pads', [0, 0, 0, 0]);
    return conv2dPatches({
      groups: intAttribute(node, 'group', 1),
      groupChannels: dims[1]!,
      kernel: [dims[2]!, dims[3]!],
      strides: ints('strides', [1, 1]) as [number, number],
      dilations: ints('dilations', [1, 1]) as [number, number],
      pads: [pads[0]!, pads[1]!, pads[2]!, pads[3]!],
    });
  },
};

/**
 * Hessians are held from collection until their weight is quantized at save time, K x K doubles each: past
 * this many bytes in all, further weights use round to nearest, so memory stays bounded on large models.
 */
export const GPTQ_HESSIAN_BUDGET_BYTES = 1024 ** 3;

export async function collectWeightHessians(
  model: OnnxModel,
  uses: WeightUse[],
  calibration: CalibrationSet,
  budgetBytes = GPTQ_HESSIAN_BUDGET_BYTES,
): Promise<WeightHessians> {
  const probeable = probeableValues(model.proto);
  const reasons = new Map<string, string>();
  const requests = new Map<string, HessianRequest>();
  let heldBytes = 0;
  const usesByWeight = new Map<string, WeightUse[]>();
  for (const use of uses) usesByWeight.set(use.weight.name ?? '', [...(usesByWeight.get(use.weight.name ?? '') ?? []), use]);
  for (const [name, weightUses] of usesByWeight) {
    const use = weightUses[0]!;
    const extractor = FEATURE_EXTRACTORS[use.node.op_type ?? '']?.(use.node, use.dims);
    const reason =
      weightUses.length > 1 ? 'shared by several nodes'
      : use.graph.proto !== model.proto.graph ? 'read inside a subgraph'
      : !probeable.has(use.node.input![0]!) ? 'its input cannot be observed'
      : extractor === undefined ? `${use.node.op_type} is not supported`
      : typeof extractor === 'string' ? extractor
      : extractor.features > GPTQ_MAX_FEATURES ? `${extractor.features} input features (GPTQ limit ${GPTQ_MAX_FEATURES})`
      : heldBytes + hessianBytes(extractor) > budgetBytes ? `the Hessian memory budget (${budgetBytes / 1024 ** 2} MiB) is spent`
      : undefined;
    if (reason) {
      reasons.set(name, `round to nearest: ${reason}`);
      continue;
    }
    heldBytes += hessianBytes(extractor as FeatureExtractor);
    requests.set(name, { tensor: use.node.input![0]!, extractor: extractor as FeatureExtractor });
  }
  const hessians = await collectInputHessians(model, requests, calibration);
  const calibrations = new Map<string, WeightCalibration>();
  for (const name of requests.keys()) {
    const hessian = hessians.get(name);
    if (hessian) calibrations.set(name, { hessian });
    else reasons.set(name, 'round to nearest: no calibration sample reached its input');
  }
  return { calibrations, reasons };
}
