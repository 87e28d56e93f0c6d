import { ONNX_TYPE } from '../../../onnx/data-types.js';
import type { AttributeValue } from '../../../onnx/builders.js';
import type { GraphValue, Shape, ValueDtype } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';
import { normalizeAxis } from '../shapes.js';

/**
 * Reductions (and the running sum Cumsum) over the axes in input 1 (a scalar or a list), keep_dims as TF has it. ONNX moved `axes` from
 * an attribute to an input in opset 13 for ReduceSum and in opset 18 for the others.
 */
const AXES_INPUT_SINCE: Record<string, number> = {
  ReduceSum: 13,
  ReduceMean: 18,
  ReduceMax: 18,
  ReduceMin: 18,
  ReduceProd: 18,
};

function reducedShape(shape: Shape, axes: number[], keepDims: boolean): Shape {
  if (shape === undefined) return undefined;
  const reduced = new Set(axes.map((axis) => normalizeAxis(axis, shape.length)));
  return keepDims ? shape.map((dim, axis) => (reduced.has(axis) ? 1 : dim)) : shape.filter((_, axis) => !reduced.has(axis));
}

function reduceValue(op: OpConversion, onnxOp: string, x: GraphValue, dtype: ValueDtype): GraphValue {
  const axesValue = op.input(1);
  const keepDims = op.attrs.bool('keep_dims', false);
  const axesAsInput = op.options.opset >= AXES_INPUT_SINCE[onnxOp]!;
  const attributes: Record<string, AttributeValue> = { keepdims: keepDims ? 1 : 0 };
  if (axesValue.constant !== undefined) {
    const axes = Array.from(axesValue.constant, Number);
    // TF reduces nothing over an empty axis list; ONNX would reduce everything.
    if (axes.length === 0) return x;
    const shape = reducedShape(x.shape, axes, keepDims);
    if (axesAsInput) return op.emitValue(onnxOp, [x, op.int64(axes)], dtype, shape, attributes);
    return op.emitValue(onnxOp, [x], dtype, shape, { ...attributes, axes });
  }
  if (!axesAsInput) op.fail(`${op.node.op} axis`, `computed at run time; ${onnxOp} takes run-time axes only from opset ${AXES_INPUT_SINCE[onnxOp]}`);
  const axes = axesValue.shape?.length === 0 ? op.emit('Reshape', [op.toInt64(axesValue), op.int64([1])])[0]! : op.toInt64(axesValue);
  const shape = keepDims && x.shape ? x.shape.map(() => null) : undefined;
  return op.emitValue(onnxOp, [x, axes], dtype, shape, { ...attributes, noop_with_empty_axes: 1 });
}

function reduction(onnxOp: string): TfOpConverter {
  return (op) => [reduceValue(op, onnxOp, op.input(0), op.input(0).dtype)];
}

/** All/Any: booleans as 0/1, reduced by min/max. */
function logicalReduction(onnxOp: string): TfOpConverter {
  return (op) => [op.cast(reduceValue(op, onnxOp, op.cast(op.input(0), 'int32'), 'int32'), 'bool')];
}

/** ArgMax/ArgMin return int64 in ONNX and int32 in tfjs. */
function argReduction(onnxOp: string): TfOpConverter {
  return (op) => {
    const x = op.input(0);
    const [axis] = op.constantInts(1, 'axis');
    const shape = reducedShape(x.shape, [axis!], false);
    const indices = op.emit(onnxOp, [x], { axis: axis!, keepdims: 0 })[0]!;
    return [op.emitValue('Cast', [indices], 'int32', shape, { to: ONNX_TYPE.INT32! })];
  };
}

/** Cumsum: a running sum along one axis, optionally exclusive and/or from the end, as ONNX CumSum. */
const cumulativeSum: TfOpConverter = (op) => {
  const x = op.input(0);
  const attributes = { exclusive: op.attrs.bool('exclusive', false) ? 1 : 0, reverse: op.attrs.bool('reverse', false) ? 1 : 0 };
  return [op.emitValue('CumSum', [x, op.input(1)], x.dtype, x.shape, attributes)];
};

export const REDUCTION_OPS: Record<string, TfOpConverter> = {
  Mean: reduction('ReduceMean'),
  Sum: reduction('ReduceSum'),
  Max: reduction('ReduceMax'),
  Min: reduction('ReduceMin'),
  Prod: reduction('ReduceProd'),
  All: logicalReduction('ReduceMin'),
  Any: logicalReduction('ReduceMax'),
  ArgMax: argReduction('ArgMax'),
  ArgMin: argReduction('ArgMin'),
  Cumsum: cumulativeSum,
};
