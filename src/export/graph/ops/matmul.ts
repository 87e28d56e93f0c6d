import type { Dim, GraphValue } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';
import { broadcastShapes, transposeShape, transposeValues } from '../shapes.js';
import { activationNamed } from './activations.js';
import { fusedTail } from './convolution.js';

/**
 * MatMul (transpose_a/b), BatchMatMul/BatchMatMulV2 (adj_x/adj_y; V2 broadcasts batch dims, as ONNX MatMul
 * does), tfjs-converter's _FusedMatMul (MatMul, then BiasAdd and an activation) and Einsum (same equation
 * syntax in TF and ONNX).
 */

/** The last two axes swapped: folded into a constant, else a Transpose node (which needs the rank). */
function swapLastAxes(op: OpConversion, value: GraphValue, role: string): GraphValue {
  const rank = value.shape?.length;
  if (rank === undefined) op.fail(`${op.node.op} ${role}`, 'transposing an operand of unknown rank');
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  const shape = transposeShape(value.shape, perm)!;
  if (value.constant !== undefined && shape.every((dim) => typeof dim === 'number')) {
    return op.constantValue(transposeValues(value.constant, value.shape as number[], perm), shape as number[], value.dtype, `${op.node.name}/${role}_transposed`);
  }
  return op.emitValue('Transpose', [value], value.dtype, shape, { perm });
}

function matMulShape(a: GraphValue, b: GraphValue): Dim[] | undefined {
  if (a.shape === undefined || b.shape === undefined) return undefined;
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2))!;
  return [...batch, a.shape[a.shape.length - 2] ?? null, b.shape[b.shape.length - 1] ?? null];
}

function matMulValue(op: OpConversion, transposeA: boolean, transposeB: boolean): GraphValue {
  const a = transposeA ? swapLastAxes(op, op.input(0), 'a') : op.input(0);
  const b = transposeB ? swapLastAxes(op, op.input(1), 'b') : op.input(1);
  return op.emitValue('MatMul', [a, b], a.dtype, matMulShape(a, b));
}

function matMul(transposeAttributes: [string, string]): TfOpConverter {
  return (op) => [matMulValue(op, op.attrs.bool(transposeAttributes[0], false), op.attrs.bool(transposeAttributes[1], false))];
}

const fusedMatMul: TfOpConverter = (op) => {
  const tail = fusedTail(op, 2);
  if (tail.batchNorm) op.fail('_FusedMatMul fused_ops', 'FusedBatchNorm after a MatMul is not supported');
  let y = matMulValue(op, op.attrs.bool('transpose_a', false), op.attrs.bool('transpose_b', false));
  if (tail.bias) y = op.emitValue('Add', [y, tail.bias], y.dtype, broadcastShapes(y.shape, tail.bias.shape));
  if (tail.activation) y = activationNamed(tail.activation)!(op, y, { alpha: op.attrs.float('leakyrelu_alpha', 0.2), slopes: tail.slopes });
  return [y];
};

/** Output sizes from the equation's letters; open (null) with an ellipsis or an unknown input shape. */
function einsumShape(equation: string, inputs: GraphValue[]): Dim[] | undefined {
  const [left, right] = equation.replace(/\s/g, '').split('->');
  if (right === undefined || equation.includes('...')) return undefined;
  const sizes = new Map<string, Dim>();
  for (const [index, letters] of left!.split(',').entries()) {
    const shape = inputs[index]?.shape;
    if (shape === undefined || shape.length !== letters.length) return undefined;
    [...letters].forEach((letter, axis) => {
      if (!sizes.has(letter) || sizes.get(letter) === 1) sizes.set(letter, shape[axis] ?? null);
    });
  }
  return [...right].map((letter) => sizes.get(letter) ?? null);
}

const einsum: TfOpConverter = (op) => {
  const equation = op.attrs.string('equation', '');
  if (!equation.includes('->')) op.fail('Einsum equation', `"${equation}" has no explicit output ("->")`);
  return [op.emitValue('Einsum', op.inputs, op.input(0).dtype, einsumShape(equation, op.inputs), { equation })];
};

export const MATMUL_OPS: Record<string, TfOpConverter> = {
  MatMul: matMul(['transpose_a', 'transpose_b']),
  BatchMatMul: matMul(['adj_x', 'adj_y']),
  BatchMatMulV2: matMul(['adj_x', 'adj_y']),
  _FusedMatMul: fusedMatMul,
  Einsum: einsum,
};
