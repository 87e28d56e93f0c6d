import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, type GraphModelBuilder } from './support/graph-model-builder.js';
import { intFeed, randomFeed } from './support/graph-model-check.js';
import { GraphCaseRunner, seededValues } from './support/graph-model-cases.js';

const cases = new GraphCaseRunner();
before(() => cases.start('export-graph-math'));
after(() => cases.finish());

const pair = { a: randomFeed([2, 3, 4], 1), b: randomFeed([4], 2, 0.5, 2) };
const positive = { x: randomFeed([2, 3, 4], 3, 0.1, 3) };
const signed = { x: randomFeed([2, 3, 4], 4, -3, 3) };

function operands(graph: GraphModelBuilder): [string, string] {
  return [graph.placeholder('a', [-1, 3, 4]), graph.placeholder('b', [4])];
}

describe('GraphModel elementwise math, activations and reductions export and match tfjs', () => {
  const binary = ['Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Div', 'Maximum', 'Minimum', 'SquaredDifference', 'FloorDiv', 'FloorMod', 'Mod', 'DivNoNan'];
  test(`binary float ops with broadcasting: ${binary.join(', ')}`, async () => {
    await cases.check((graph) => {
      const [a, b] = operands(graph);
      for (const op of binary) graph.op(op, op, [a, b]);
    }, pair);
  });

  test('Pow, AddN and ClipByValue', async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 3, 4]);
      graph.op('pow', 'Pow', [x, graph.constant('exponent', [1.5], [])]);
      graph.op('sum', 'AddN', [x, x, graph.op('doubled', 'Mul', [x, graph.constant('two', [2], [])])]);
      graph.op('clip', 'ClipByValue', [x, graph.constant('low', [0.5], []), graph.constant('high', [2], [])]);
    }, positive);
  });

  test('int32 Div and FloorMod floor like tfjs', async () => {
    await cases.check((graph) => {
      const a = graph.placeholder('a', [6], 'DT_INT32');
      const b = graph.placeholder('b', [6], 'DT_INT32');
      graph.op('div', 'Div', [a, b], { T: attr.type('DT_INT32') });
      graph.op('mod', 'FloorMod', [a, b], { T: attr.type('DT_INT32') });
    }, { a: intFeed([7, -7, 7, -7, 9, 0], [6]), b: intFeed([2, 2, -2, -2, 3, 5], [6]) });
  });

  const unaryPositive = ['Log', 'Sqrt', 'Rsqrt', 'Reciprocal', 'Log1p', 'Acosh'];
  test(`unary ops on positive values: ${unaryPositive.join(', ')}`, async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 3, 4]);
      for (const op of unaryPositive) graph.op(op, op, [graph.op(`${op}/shift`, 'AddV2', [x, graph.constant(`${op}/one`, [1], [])])]);
    }, positive);
  });

  const unarySigned = ['Neg', 'Abs', 'Exp', 'Square', 'Sin', 'Cos', 'Tan', 'Floor', 'Ceil', 'Round', 'Sign', 'Erf', 'Expm1', 'Sinh', 'Cosh', 'Atan', 'Asinh'];
  test(`unary ops on signed values: ${unarySigned.join(', ')}`, async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 3, 4]);
      for (const op of unarySigned) graph.op(op, op, [x]);
      const unit = graph.op('unit', 'Tanh', [x]);
      for (const op of ['Asin', 'Acos', 'Atanh']) graph.op(op, op, [graph.op(`${op}/scaled`, 'Mul', [unit, graph.constant(`${op}/scale`, [0.9], [])])]);
    }, signed);
  });

  const activations = ['Relu', 'Relu6', 'Elu', 'Selu', 'Sigmoid', 'Tanh', 'Softplus', 'Softmax', 'LogSoftmax'];
  test(`activations: ${activations.join(', ')}, LeakyRelu and Prelu`, async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 3, 4]);
      for (const op of activations) graph.op(op, op, [x]);
      graph.op('LeakyRelu', 'LeakyRelu', [x], { alpha: attr.f(0.3) });
      graph.op('Prelu', 'Prelu', [x, graph.constant('slopes', seededValues(6, 4, 0, 0.5), [4])]);
    }, signed);
  });

  test('comparisons and logic feed Select/SelectV2', async () => {
    await cases.check((graph) => {
      const [a, b] = operands(graph);
      const comparisons = ['Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual'].map((op) => graph.op(op, op, [a, b], {}));
      const both = graph.op('and', 'LogicalAnd', [comparisons[2]!, comparisons[1]!], {});
      const either = graph.op('or', 'LogicalOr', [comparisons[4]!, comparisons[0]!], {});
      const neither = graph.op('not', 'LogicalNot', [either], {});
      graph.op('pick', 'SelectV2', [both, a, graph.op('negated', 'Neg', [a])]);
      graph.op('pick_not', 'SelectV2', [neither, a, b]);
      const infinite = graph.op('reciprocal', 'RealDiv', [a, graph.op('zeroed', 'Sub', [b, b])]);
      graph.op('is_finite', 'IsFinite', [infinite]);
      graph.op('is_inf', 'IsInf', [infinite]);
      graph.op('is_nan', 'IsNan', [graph.op('nan', 'Mul', [infinite, graph.constant('nothing', [0], [])])]);
    }, { a: randomFeed([2, 3, 4], 7), b: { ...randomFeed([4], 8), values: Float32Array.of(0.1, -0.2, 0.3, 0) } });
  });

  const reductions = ['Mean', 'Sum', 'Max', 'Min', 'Prod'];
  for (const opset of [13, 17, 18]) {
    test(`reductions ${reductions.join(', ')} with and without keep_dims, ArgMax/ArgMin, All/Any, at opset ${opset}`, async () => {
      await cases.check((graph) => {
        const x = graph.placeholder('x', [-1, 3, 4]);
        const lastAxis = graph.constant('last_axis', [-1], [1], 'DT_INT32');
        const twoAxes = graph.constant('two_axes', [0, 2], [2], 'DT_INT32');
        const scalarAxis = graph.constant('scalar_axis', [1], [], 'DT_INT32');
        for (const op of reductions) {
          graph.op(`${op}_keep`, op, [x, lastAxis], { keep_dims: attr.b(true), Tidx: attr.type('DT_INT32') });
          graph.op(`${op}_drop`, op, [x, twoAxes], { keep_dims: attr.b(false), Tidx: attr.type('DT_INT32') });
          graph.op(`${op}_scalar`, op, [x, scalarAxis], { Tidx: attr.type('DT_INT32') });
        }
        graph.op('argmax', 'ArgMax', [x, scalarAxis], { output_type: attr.type('DT_INT32') });
        graph.op('argmin', 'ArgMin', [x, lastAxis], { output_type: attr.type('DT_INT32') });
        const positive = graph.op('positive', 'Greater', [x, graph.constant('zero', [0], [])]);
        graph.op('all', 'All', [positive, lastAxis], { keep_dims: attr.b(false) });
        graph.op('any', 'Any', [positive, scalarAxis], { keep_dims: attr.b(true) });
      }, signed, { opset });
    });
  }
});

describe('GraphModel TopKV2 and Cumsum export and match tfjs', () => {
  test('Cumsum plain, exclusive, reversed', async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 3, 4]);
      const axis = graph.constant('axis', [2], [], 'DT_INT32');
      graph.op('plain', 'Cumsum', [x, axis], { exclusive: attr.b(false), reverse: attr.b(false) });
      graph.op('exclusive', 'Cumsum', [x, axis], { exclusive: attr.b(true), reverse: attr.b(false) });
      graph.op('reversed', 'Cumsum', [x, graph.constant('axis1', [1], [], 'DT_INT32')], { exclusive: attr.b(true), reverse: attr.b(true) });
    }, signed);
  });


  test('TopKV2 values and int32 indices, ties to the lower index', async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 3, 4]);
      const rounded = graph.op('rounded', 'Round', [graph.op('scaled', 'Mul', [x, graph.constant('two', [2], [])])]);
      graph.op('top', 'TopKV2', [rounded, graph.constant('k', [3], [], 'DT_INT32')], { sorted: attr.b(true) });
      graph.op('values', 'Identity', ['top:0']);
      graph.op('indices', 'Identity', ['top:1'], { T: attr.type('DT_INT32') });
    }, signed);
  });
});

describe('GraphModel NonMaxSuppression exports and matches tfjs', () => {
  /** Boxes around 12 random centres, many overlapping, as [y1, x1, y2, x2]. */
  function boxes(): Float32Array {
    const values = seededValues(30, 12 * 3, 0, 1);
    return Float32Array.from({ length: 48 }, (_, index) => {
      const [y, x, size] = [values[3 * Math.floor(index / 4)]!, values[3 * Math.floor(index / 4) + 1]!, 0.2 + 0.3 * values[3 * Math.floor(index / 4) + 2]!];
      return [y - size, x - size, y + size, x + size][index % 4]!;
    });
  }

  test('V3, V4 padded to the maximum, V5 with sigma 0 (indices, scores, count)', async () => {
    const runs = await cases.check((graph) => {
      const corners = graph.placeholder('boxes', [12, 4]);
      const scores = graph.placeholder('scores', [12]);
      const limit = graph.constant('max_output', [8], [], 'DT_INT32');
      const iou = graph.constant('iou', [0.3], []);
      const floor = graph.constant('score_floor', [0.2], []);
      graph.op('v3', 'NonMaxSuppressionV3', [corners, scores, limit, iou, floor]);
      graph.op('v4', 'NonMaxSuppressionV4', [corners, scores, limit, iou, floor], { pad_to_max_output_size: attr.b(true) });
      graph.op('v4_indices', 'Identity', ['v4:0'], { T: attr.type('DT_INT32') });
      graph.op('v4_count', 'Identity', ['v4:1'], { T: attr.type('DT_INT32') });
      graph.op('v5', 'NonMaxSuppressionV5', [corners, scores, limit, iou, floor, graph.constant('sigma', [0], [])]);
      graph.op('v5_indices', 'Identity', ['v5:0'], { T: attr.type('DT_INT32') });
      graph.op('v5_scores', 'Identity', ['v5:1']);
    }, { boxes: { values: boxes(), shape: [12, 4], dtype: 'float32' }, scores: randomFeed([12], 31, 0, 1) });
    const kept = runs.tfjs.v3!.values.length;
    assert.ok(kept > 1 && kept < 8, `the boxes overlap enough for suppression to matter (kept ${kept})`);
  });
});

describe('GraphModel MatMul family exports and matches tfjs', () => {
  for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    test(`MatMul transpose_a=${transposeA} transpose_b=${transposeB}, with a run-time and a constant operand`, async () => {
      await cases.check((graph) => {
        const a = graph.placeholder('a', transposeA ? [5, -1] : [-1, 5]);
        const b = graph.placeholder('b', transposeB ? [3, 5] : [5, 3]);
        const weights = graph.constant('w', seededValues(10, 15), transposeB ? [3, 5] : [5, 3]);
        const flags = { transpose_a: attr.b(transposeA), transpose_b: attr.b(transposeB) };
        graph.op('runtime', 'MatMul', [a, b], flags);
        graph.op('constant', 'MatMul', [a, weights], flags);
      }, { a: randomFeed(transposeA ? [5, 2] : [2, 5], 11), b: randomFeed(transposeB ? [3, 5] : [5, 3], 12) });
    });
  }

  test('BatchMatMulV2 with adj_x/adj_y and a broadcast batch, BatchMatMul', async () => {
    await cases.check((graph) => {
      const a = graph.placeholder('a', [-1, 2, 4, 5]);
      const b = graph.placeholder('b', [2, 5, 3]);
      const c = graph.placeholder('c', [-1, 2, 5, 4]);
      const d = graph.constant('d', seededValues(20, 30), [2, 3, 5]);
      graph.op('v2', 'BatchMatMulV2', [a, b]);
      graph.op('v2_adjoint', 'BatchMatMulV2', [c, d], { adj_x: attr.b(true), adj_y: attr.b(true) });
      graph.op('v1', 'BatchMatMul', [a, c]);
    }, { a: randomFeed([3, 2, 4, 5], 13), b: randomFeed([2, 5, 3], 14), c: randomFeed([3, 2, 5, 4], 15) });
  });

  test('Einsum: batched matmul and a contraction with a weight', async () => {
    await cases.check((graph) => {
      const a = graph.placeholder('a', [-1, 4, 5]);
      const b = graph.placeholder('b', [-1, 5, 3]);
      graph.op('batched', 'Einsum', [a, b], { equation: attr.s('bij,bjk->bik'), N: attr.i(2) });
      graph.op('projected', 'Einsum', [a, graph.constant('w', seededValues(21, 10), [5, 2])], { equation: attr.s('abc,cd->abd'), N: attr.i(2) });
    }, { a: randomFeed([2, 4, 5], 22), b: randomFeed([2, 5, 3], 23) });
  });

  for (const fused of [['BiasAdd'], ['BiasAdd', 'Relu'], ['BiasAdd', 'Relu6'], ['BiasAdd', 'Elu'], ['BiasAdd', 'LeakyRelu'], ['BiasAdd', 'Sigmoid'], ['BiasAdd', 'Prelu']]) {
    test(`_FusedMatMul ${fused.join(' + ')} with transpose_b`, async () => {
      await cases.check((graph) => {
        const x = graph.placeholder('x', [-1, 5]);
        const weights = graph.constant('w', seededValues(16, 15), [3, 5]);
        const args = [graph.constant('bias', seededValues(17, 3), [3])];
        if (fused.includes('Prelu')) args.push(graph.constant('slopes', seededValues(18, 3, 0, 0.5), [3]));
        graph.op('out', '_FusedMatMul', [x, weights, ...args], {
          transpose_a: attr.b(false),
          transpose_b: attr.b(true),
          fused_ops: attr.strings(fused),
          num_args: attr.i(args.length),
          leakyrelu_alpha: attr.f(0.1),
        });
      }, { x: randomFeed([4, 5], 19, -2, 2) });
    });
  }
});
