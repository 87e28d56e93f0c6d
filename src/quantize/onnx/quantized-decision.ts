import type { TensorProto } from '../../onnx/onnx-proto.js';
import { tensorByteLength, tensorElementCount } from '../../onnx/tensor-data.js';
import type { TensorDecision } from '../quantize-report.js';

/** The report entry for a weight replaced by `outputs` (packed codes, scales, zero points). */
export function quantizedDecision(
  weight: TensorProto,
  reader: { name?: string; opType: string },
  storage: string,
  outputs: TensorProto[],
  detail?: TensorDecision['detail'],
): TensorDecision {
  return {
    weight: weight.name ?? '',
    node: reader.name,
    opType: reader.opType,
    action: 'quantized',
    storage,
    elements: tensorElementCount(weight),
    bytesBefore: tensorByteLength(weight) ?? 0,
    bytesAfter: outputs.reduce((sum, tensor) => sum + tensorByteLength(tensor)!, 0),
    detail,
  };
}
