import { ModelpressError } from '../../errors.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { TensorProto } from '../../onnx/onnx-proto.js';

/**
 * Quantize a weight when the model is saved, not when it is planned: the float values are read (from the
 * input's external data, range by range) only when the first of its output tensors is written, all outputs
 * (packed codes, scales, zero points) are computed in one go, and the result is dropped once the last one
 * has been written. So memory holds one weight at a time, whatever the model's size.
 */
export function deferQuantization(
  model: OnnxModel,
  source: TensorProto,
  outputs: TensorProto[],
  compute: (values: Float32Array) => Uint8Array[],
): void {
  let pending: Promise<Uint8Array[]> | undefined;
  let remaining = outputs.length;
  outputs.forEach((output, index) => {
    model.setTensorData(output, async () => {
      pending ??= model.tensorAsFloat32(source).then((values) => {
        assertFinite(values, source.name ?? '');
        const results = compute(values);
        if (results.length !== outputs.length) throw new Error(`internal: ${results.length} results for ${outputs.length} outputs`);
        return results;
      });
      const results = await pending;
      if (--remaining === 0) pending = undefined;
      return results[index]!;
    });
  });
}

/** NaN or infinite weights cannot be quantized meaningfully: say which tensor, and where. */
export function assertFinite(values: Float32Array, tensorName: string): void {
  for (let index = 0; index < values.length; index++) {
    if (!Number.isFinite(values[index])) {
      throw new ModelpressError(`weight '${tensorName}' holds ${values[index]} at element ${index}: cannot quantize non-finite values`);
    }
  }
}

/** Bytes of a typed array, for producers. */
export function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}
