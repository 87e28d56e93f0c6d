import type { Dim, GraphValue } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';

/**
 * StridedSlice, Slice and ReverseV2 as ONNX Slice (+ Squeeze for shrink_axis_mask, Unsqueeze for new_axis_mask). Bounds
 * past either end are clamped by ONNX Slice as by TF, so "to the end" is a very large end.
 */
const TO_END = Number.MAX_SAFE_INTEGER;
const TO_START = -Number.MAX_SAFE_INTEGER;

interface SliceSpec {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

/** The length of x[start:stop:step] along a dimension of `size`, Python-style clamping. */
function slicedLength(size: Dim, start: number, stop: number, step: number): Dim {
  if (start === 0 && stop === TO_END && step === 1) return size;
  if (typeof size !== 'number') return null;
  const clamp = (index: number, low: number, high: number) => Math.min(Math.max(index < 0 ? index + size : index, low), high);
  if (step > 0) return Math.max(0, Math.ceil((clamp(stop, 0, size) - clamp(start, 0, size)) / step));
  return Math.max(0, Math.ceil((clamp(start, -1, size - 1) - clamp(stop, -1, size - 1)) / -step));
}

function emitSlice(op: OpConversion, x: GraphValue, spec: SliceSpec, shape: Dim[] | undefined): GraphValue {
  if (spec.axes.length === 0) return x;
  const inputs = [x.name(), op.int64(spec.starts), op.int64(spec.ends), op.int64(spec.axes)];
  if (spec.steps.some((step) => step !== 1)) inputs.push(op.int64(spec.steps));
  return op.emitValue('Slice', inputs, x.dtype, shape);
}

/**
 * TF's sparse slice spec (one entry per begin element, with ellipsis and new-axis entries) walked into
 * the dense input axes it addresses. With no ellipsis the spec's trailing axes are untouched, as if an
 * ellipsis ended it.
 */
const stridedSlice: TfOpConverter = (op) => {
  const x = op.input(0);
  const strides = op.constantInts(3, 'strides');
  const mask = (name: string) => op.attrs.int(name, 0);
  const [beginMask, endMask, ellipsisMask, newAxisMask, shrinkMask] = ['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'].map(mask) as [number, number, number, number, number];
  if (op.input(1).constant === undefined || op.input(2).constant === undefined) {
    if (ellipsisMask !== 0 || newAxisMask !== 0) op.fail('StridedSlice begin', 'run-time bounds together with an ellipsis or new axes');
    return [runtimeBoundsSlice(op, strides, beginMask, endMask, shrinkMask)];
  }
  const begin = op.constantInts(1, 'begin');
  const end = op.constantInts(2, 'end');
  const rank = x.shape?.length;
  if (ellipsisMask !== 0 && rank === undefined) op.fail('StridedSlice ellipsis_mask', 'an ellipsis on an input of unknown rank');

  const spec: SliceSpec = { starts: [], ends: [], axes: [], steps: [] };
  const squeezed: number[] = [];
  // The result's axes in order: an input axis (with its length) or a new axis of size 1.
  const output: Array<{ axis: number; length: Dim } | 'new'> = [];
  let axis = 0;
  for (let index = 0; index < begin.length; index++) {
    if (has(ellipsisMask, index)) {
      let later = 0;
      for (let after = index + 1; after < begin.length; after++) if (!has(newAxisMask, after)) later++;
      const covered = rank! - axis - later;
      for (let skipped = 0; skipped < covered; skipped++, axis++) output.push({ axis, length: x.shape![axis] ?? null });
      continue;
    }
    if (has(newAxisMask, index)) {
      output.push('new');
      continue;
    }
    const size = x.shape?.[axis] ?? null;
    const step = strides[index] ?? 1;
    if (step === 0) op.fail('StridedSlice strides', 'a stride of 0');
    if (has(shrinkMask, index)) {
      const at = begin[index]!;
      spec.starts.push(at);
      spec.ends.push(at === -1 ? TO_END : at + 1);
      spec.axes.push(axis);
      spec.steps.push(1);
      squeezed.push(axis++);
      continue;
    }
    const start = has(beginMask, index) ? (step > 0 ? 0 : TO_END) : begin[index]!;
    const stop = has(endMask, index) ? (step > 0 ? TO_END : TO_START) : end[index]!;
    if (!(start === 0 && stop === TO_END && step === 1)) {
      spec.starts.push(start);
      spec.ends.push(stop);
      spec.axes.push(axis);
      spec.steps.push(step);
    }
    output.push({ axis, length: slicedLength(size, start, stop, step) });
    axis++;
  }
  if (rank !== undefined) for (; axis < rank; axis++) output.push({ axis, length: x.shape![axis] ?? null });

  const sliceShape = x.shape?.map((dim, at) => {
    const entry = output.find((item) => item !== 'new' && item.axis === at);
    return entry === undefined ? (squeezed.includes(at) ? 1 : dim) : (entry as { length: Dim }).length;
  });
  let y = emitSlice(op, x, spec, sliceShape);
  const finalShape = rank === undefined ? undefined : output.map((item) => (item === 'new' ? 1 : item.length));
  const keptShape = rank === undefined ? undefined : output.filter((item) => item !== 'new').map((item) => (item as { length: Dim }).length);
  if (squeezed.length > 0) y = op.emitValue('Squeeze', [y, op.int64(squeezed)], x.dtype, keptShape);
  const newAxes = output.flatMap((item, position) => (item === 'new' ? [position] : []));
  if (newAxes.length > 0) y = op.emitValue('Unsqueeze', [y, op.int64(newAxes)], x.dtype, finalShape);
  return [y];
};

const has = (bits: number, index: number) => (bits & (1 << index)) !== 0;

/**
 * StridedSlice whose begin or end is computed at run time (e.g. from Shape), with constant strides: the
 * masks pick, per axis, the run-time bound or "from the start"/"to the end"; a shrunk axis ends one past its
 * begin (or at the end for begin -1) and is squeezed away.
 */
function runtimeBoundsSlice(op: OpConversion, strides: number[], beginMask: number, endMask: number, shrinkMask: number): GraphValue {
  const x = op.input(0);
  const axes = strides.map((_, axis) => axis);
  const flags = (test: (axis: number) => boolean) => op.constantValue(Uint8Array.from(axes, (axis) => (test(axis) ? 1 : 0)), [axes.length], 'bool', `${op.node.name}/mask`);
  const where = (condition: GraphValue, whenTrue: string, whenFalse: string) => op.emit('Where', [condition, whenTrue, whenFalse])[0]!;
  const begin = op.toInt64(op.input(1));
  const end = op.toInt64(op.input(2));
  const starts = where(
    flags((axis) => has(beginMask, axis) && !has(shrinkMask, axis)),
    op.int64(strides.map((step) => (step > 0 ? 0 : TO_END))),
    begin,
  );
  const afterBegin = where(
    { dtype: 'bool', shape: [axes.length], name: () => op.emit('Equal', [begin, op.int64(axes.map(() => -1))])[0]! },
    op.int64(axes.map(() => TO_END)),
    op.emit('Add', [begin, op.int64(axes.map(() => 1))])[0]!,
  );
  const ends = where(
    flags((axis) => has(shrinkMask, axis)),
    afterBegin,
    where(flags((axis) => has(endMask, axis)), op.int64(strides.map((step) => (step > 0 ? TO_END : TO_START))), end),
  );
  const steps = strides.map((step, axis) => (has(shrinkMask, axis) ? 1 : step));
  const fullAxis = (axis: number) => has(beginMask, axis) && has(endMask, axis) && strides[axis] === 1 && !has(shrinkMask, axis);
  const sliceShape = x.shape?.map((dim, axis) => (axis >= axes.length || fullAxis(axis) ? dim : has(shrinkMask, axis) ? 1 : null));
  const sliced = op.emitValue('Slice', [x.name(), starts, ends, op.int64(axes), op.int64(steps)], x.dtype, sliceShape);
  const squeezed = axes.filter((axis) => has(shrinkMask, axis));
  if (squeezed.length === 0) return sliced;
  return op.emitValue('Squeeze', [sliced, op.int64(squeezed)], x.dtype, sliceShape?.filter((_, axis) => !squeezed.includes(axis)));
}

/** Slice(x, begin, size), size -1 meaning "to the end". */
const slice: TfOpConverter = (op) => {
  const [x, begin, size] = [op.input(0), op.input(1), op.input(2)];
  if (begin.constant !== undefined && size.constant !== undefined) {
    const starts = Array.from(begin.constant, Number);
    const sizes = Array.from(size.constant, Number);
    const spec: SliceSpec = {
      starts,
      ends: sizes.map((length, axis) => (length === -1 ? TO_END : starts[axis]! + length)),
      axes: starts.map((_, axis) => axis),
      steps: starts.map(() => 1),
    };
    const shape = x.shape?.map((dim, axis) => (axis >= sizes.length ? dim : sizes[axis] === -1 ? slicedLength(dim, starts[axis]!, TO_END, 1) : sizes[axis]!));
    return [emitSlice(op, x, spec, shape)];
  }
  const starts = op.toInt64(begin);
  const lengths = op.toInt64(size);
  const toEnd = op.emit('Equal', [lengths, op.int64([-1], true)])[0]!;
  const ends = op.emit('Where', [toEnd, op.int64([TO_END], true), op.emit('Add', [starts, lengths])[0]!])[0]!;
  return [op.emitValue('Slice', [x, starts, ends], x.dtype, x.shape?.map(() => null))];
};

/** ReverseV2: each listed axis read backwards, a Slice with step -1. */
const reverse: TfOpConverter = (op) => {
  const x = op.input(0);
  const axes = op.constantInts(1, 'axis');
  const spec: SliceSpec = { starts: axes.map(() => -1), ends: axes.map(() => TO_START), axes, steps: axes.map(() => -1) };
  return [emitSlice(op, x, spec, x.shape)];
};

export const SLICING_OPS: Record<string, TfOpConverter> = {
  StridedSlice: stridedSlice,
  Slice: slice,
  ReverseV2: reverse,
};
