import type { OnnxGraphEmitter } from '../onnx-emitter.js';
import { channelsFirstToLast, channelsLastToFirst } from '../layout/transpose-perms.js';
import type { KerasValue } from './layer-converter.js';

/** Small ONNX building blocks several layer families share, written once with their opset rules. */

/** ReduceSum took `axes` as an input from opset 13, the other reductions from opset 18. */
const AXES_INPUT_SINCE: Record<string, number> = { ReduceSum: 13, ReduceMean: 18, ReduceMax: 18, ReduceMin: 18, ReduceSumSquare: 18, ReduceProd: 18 };

export function reduce(emitter: OnnxGraphEmitter, opset: number, op: string, input: string, axes: number[], keepdims: boolean, hint: string): string {
  if (opset >= (AXES_INPUT_SINCE[op] ?? 18)) return emitter.op(op, [input, emitter.int64Constant(axes)], { keepdims: keepdims ? 1 : 0 }, hint);
  return emitter.op(op, [input], { axes, keepdims: keepdims ? 1 : 0 }, hint);
}

export function scalar(emitter: OnnxGraphEmitter, hint: string, value: number): string {
  return emitter.floatConstant(hint, [], [value]);
}

/** Clip with min/max inputs (opset 11+); `max` undefined leaves the top open. */
export function clip(emitter: OnnxGraphEmitter, input: string, min: number, max: number | undefined, hint: string): string {
  const inputs = [input, scalar(emitter, `${hint}_min`, min)];
  if (max !== undefined) inputs.push(scalar(emitter, `${hint}_max`, max));
  return emitter.op('Clip', inputs, {}, hint);
}

/**
 * Run `build` on the channels-first view of a channels-last value: ONNX's Conv, pooling, Resize, Pad and
 * BatchNormalization expect channels at axis 1. The Transposes emitted here are naive; the layout pass
 * cancels the back-to-back pairs they form between consecutive layers.
 */
export function inChannelsFirst(
  emitter: OnnxGraphEmitter,
  value: KerasValue,
  hint: string,
  build: (channelsFirst: string) => string,
): string {
  const rank = value.shape.length;
  const first = emitter.op('Transpose', [value.name], { perm: channelsLastToFirst(rank) }, `${hint}_to_channels_first`);
  const result = build(first);
  return emitter.op('Transpose', [result], { perm: channelsFirstToLast(rank) }, `${hint}_to_channels_last`);
}

/** The dynamic shape of `value` from axis `start` to `end` (exclusive), as a 1-D int64 tensor. */
export function shapeSlice(emitter: OnnxGraphEmitter, value: string, start: number, end: number | undefined, hint: string): string {
  const shape = emitter.op('Shape', [value], {}, `${hint}_shape`);
  const inputs = [shape, emitter.int64Constant([start]), emitter.int64Constant([end ?? 2 ** 62])];
  return emitter.op('Slice', inputs, {}, `${hint}_dims`);
}
