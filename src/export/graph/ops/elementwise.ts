import type { GraphValue, ValueDtype } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';
import { broadcastShapes } from '../shapes.js';

/** Elementwise math, comparisons and logic: TF and ONNX broadcast the same (NumPy) way. */

function binaryValue(op: OpConversion, onnxOp: string, a: GraphValue, b: GraphValue, dtype: ValueDtype = a.dtype): GraphValue {
  return op.emitValue(onnxOp, [a, b], dtype, broadcastShapes(a.shape, b.shape));
}

function unaryValue(op: OpConversion, onnxOp: string, x: GraphValue, dtype: ValueDtype = x.dtype): GraphValue {
  return op.emitValue(onnxOp, [x], dtype, x.shape);
}

function binary(onnxOp: string, dtype?: ValueDtype): TfOpConverter {
  return (op) => [binaryValue(op, onnxOp, op.input(0), op.input(1), dtype)];
}

function unary(onnxOp: string, dtype?: ValueDtype): TfOpConverter {
  return (op) => [unaryValue(op, onnxOp, op.input(0), dtype)];
}

function scalarLike(op: OpConversion, x: GraphValue, value: number): GraphValue {
  return op.constantValue(x.dtype === 'float32' ? Float32Array.of(value) : Int32Array.of(value), [], x.dtype, `${op.node.name}/${value}`);
}

/** tfjs divides int32 tensors with floor division (tf.div -> floorDiv); ONNX Div truncates, so go through float. */
function floorDivide(op: OpConversion, a: GraphValue, b: GraphValue): GraphValue {
  if (a.dtype === 'float32') return unaryValue(op, 'Floor', binaryValue(op, 'Div', a, b));
  const quotient = binaryValue(op, 'Div', op.cast(a, 'float32'), op.cast(b, 'float32'));
  return op.cast(unaryValue(op, 'Floor', quotient), a.dtype);
}

/** tfjs's mod is floor mod (the result takes the divisor's sign) for Mod and FloorMod alike. */
function floorModulo(op: OpConversion, a: GraphValue, b: GraphValue): GraphValue {
  if (a.dtype !== 'float32') return op.emitValue('Mod', [a, b], a.dtype, broadcastShapes(a.shape, b.shape), { fmod: 0 });
  return binaryValue(op, 'Sub', a, binaryValue(op, 'Mul', floorDivide(op, a, b), b));
}

export const ELEMENTWISE_OPS: Record<string, TfOpConverter> = {
  Add: binary('Add'),
  AddV2: binary('Add'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Div: (op) => [op.input(0).dtype === 'float32' ? binaryValue(op, 'Div', op.input(0), op.input(1)) : floorDivide(op, op.input(0), op.input(1))],
  FloorDiv: (op) => [floorDivide(op, op.input(0), op.input(1))],
  FloorMod: (op) => [floorModulo(op, op.input(0), op.input(1))],
  Mod: (op) => [floorModulo(op, op.input(0), op.input(1))],
  DivNoNan: (op) => {
    const [a, b] = [op.input(0), op.input(1)];
    const isZero = binaryValue(op, 'Equal', b, scalarLike(op, b, 0), 'bool');
    const quotient = binaryValue(op, 'Div', a, b);
    return [op.emitValue('Where', [isZero, scalarLike(op, a, 0), quotient], a.dtype, quotient.shape)];
  },
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Pow: binary('Pow'),
  SquaredDifference: (op) => {
    const difference = binaryValue(op, 'Sub', op.input(0), op.input(1));
    return [binaryValue(op, 'Mul', difference, difference)];
  },
  AddN: (op) => [op.emitValue('Sum', op.inputs, op.input(0).dtype, broadcastShapes(...op.inputs.map((input) => input.shape)))],
  ClipByValue: (op) => [binaryValue(op, 'Min', binaryValue(op, 'Max', op.input(0), op.input(1)), op.input(2))],

  Neg: unary('Neg'),
  Abs: unary('Abs'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Sqrt: unary('Sqrt'),
  Rsqrt: (op) => [unaryValue(op, 'Reciprocal', unaryValue(op, 'Sqrt', op.input(0)))],
  Square: (op) => [binaryValue(op, 'Mul', op.input(0), op.input(0))],
  Reciprocal: unary('Reciprocal'),
  Sin: unary('Sin'),
  Cos: unary('Cos'),
  Tan: unary('Tan'),
  Asin: unary('Asin'),
  Acos: unary('Acos'),
  Atan: unary('Atan'),
  Sinh: unary('Sinh'),
  Cosh: unary('Cosh'),
  Asinh: unary('Asinh'),
  Acosh: unary('Acosh'),
  Atanh: unary('Atanh'),
  Floor: unary('Floor'),
  Ceil: unary('Ceil'),
  // Both round half to even.
  Round: unary('Round'),
  Sign: unary('Sign'),
  Erf: unary('Erf'),
  Expm1: (op) => [binaryValue(op, 'Sub', unaryValue(op, 'Exp', op.input(0)), scalarLike(op, op.input(0), 1))],
  Log1p: (op) => [unaryValue(op, 'Log', binaryValue(op, 'Add', op.input(0), scalarLike(op, op.input(0), 1)))],
  IsNan: unary('IsNaN', 'bool'),
  IsInf: unary('IsInf', 'bool'),
  IsFinite: (op) => {
    const special = binaryValue(op, 'Or', unaryValue(op, 'IsNaN', op.input(0), 'bool'), unaryValue(op, 'IsInf', op.input(0), 'bool'));
    return [unaryValue(op, 'Not', special)];
  },

  Equal: binary('Equal', 'bool'),
  NotEqual: (op) => [unaryValue(op, 'Not', binaryValue(op, 'Equal', op.input(0), op.input(1), 'bool'))],
  Greater: binary('Greater', 'bool'),
  GreaterEqual: binary('GreaterOrEqual', 'bool'),
  Less: binary('Less', 'bool'),
  LessEqual: binary('LessOrEqual', 'bool'),
  LogicalAnd: binary('And', 'bool'),
  LogicalOr: binary('Or', 'bool'),
  LogicalNot: unary('Not', 'bool'),
};
