import { attr, GraphModelBuilder } from './graph-model-builder.js';
import { seededValues } from './graph-model-cases.js';

/**
 * Two small graphs in the shape tfjs-converter gives common models: a mobile-style CNN (fused convs, a
 * depthwise conv, pooling, global average, fused dense, softmax) and a one-block transformer encoder
 * (embedding gather, layer norm from Mean/Rsqrt, two-head attention with BatchMatMulV2 and Softmax,
 * Reshape/Transpose between head layouts, StridedSlice of the first token).
 */

function convWindow(strides: number): Record<string, Record<string, unknown>> {
  return { strides: attr.ints([1, strides, strides, 1]), padding: attr.s('SAME'), data_format: attr.s('NHWC'), dilations: attr.ints([1, 1, 1, 1]) };
}

export const VISION_INPUT_SHAPE = [-1, 16, 16, 3];

export function visionGraph(): GraphModelBuilder {
  const graph = new GraphModelBuilder();
  const image = graph.placeholder('input_image', VISION_INPUT_SHAPE);
  const fused = (ops: string[]) => ({ fused_ops: attr.strings(ops), num_args: attr.i(1) });
  const stem = graph.op('stem/conv', '_FusedConv2D', [image, graph.constant('stem/w', seededValues(1, 3 * 3 * 3 * 8, -0.5, 0.5), [3, 3, 3, 8]), graph.constant('stem/b', seededValues(2, 8, -0.1, 0.1), [8])], {
    ...convWindow(2),
    ...fused(['BiasAdd', 'Relu6']),
  });
  const depthwise = graph.op('block/depthwise', 'FusedDepthwiseConv2dNative', [stem, graph.constant('block/dw', seededValues(3, 3 * 3 * 8, -0.5, 0.5), [3, 3, 8, 1]), graph.constant('block/db', seededValues(4, 8, -0.1, 0.1), [8])], {
    ...convWindow(1),
    ...fused(['BiasAdd', 'Relu6']),
  });
  const project = graph.op('block/project', '_FusedConv2D', [depthwise, graph.constant('block/pw', seededValues(5, 8 * 12, -0.5, 0.5), [1, 1, 8, 12]), graph.constant('block/pb', seededValues(6, 12, -0.1, 0.1), [12])], {
    ...convWindow(1),
    ...fused(['BiasAdd']),
  });
  const pooled = graph.op('pool', 'MaxPool', [project], { ...convWindow(2), ksize: attr.ints([1, 2, 2, 1]), padding: attr.s('VALID') });
  const features = graph.op('global_average', 'Mean', [pooled, graph.constant('spatial_axes', [1, 2], [2], 'DT_INT32')], { keep_dims: attr.b(false), Tidx: attr.type('DT_INT32') });
  const logits = graph.op('classifier', '_FusedMatMul', [features, graph.constant('classifier/w', seededValues(7, 12 * 5, -0.5, 0.5), [12, 5]), graph.constant('classifier/b', seededValues(8, 5, -0.1, 0.1), [5])], {
    transpose_a: attr.b(false),
    transpose_b: attr.b(false),
    ...fused(['BiasAdd']),
  });
  graph.op('Identity', 'Identity', [graph.op('softmax', 'Softmax', [logits])]);
  graph.op('Identity_1', 'Identity', [features]);
  graph.signatureInput('image', 'input_image:0');
  graph.signatureOutput('probabilities', 'Identity:0');
  graph.signatureOutput('features', 'Identity_1:0');
  return graph;
}

const TOKENS = 6;
const WIDTH = 8;
const HEADS = 2;
const VOCABULARY = 20;

export function transformerGraph(): GraphModelBuilder {
  const graph = new GraphModelBuilder();
  const ints = (name: string, values: number[], shape = [values.length]) => graph.constant(name, values, shape, 'DT_INT32');
  const weight = (name: string, seed: number, shape: number[], scale = 0.5) => graph.constant(name, seededValues(seed, shape.reduce((a, b) => a * b, 1), -scale, scale), shape);
  const ids = graph.placeholder('input_ids', [-1, TOKENS], 'DT_INT32');
  const embedded = graph.op('embedding', 'GatherV2', [weight('embedding/table', 1, [VOCABULARY, WIDTH]), ids, ints('embedding/axis', [0], [])], { batch_dims: attr.i(0), Tindices: attr.type('DT_INT32') });
  const x = graph.op('positions', 'AddV2', [embedded, weight('positions/table', 2, [TOKENS, WIDTH], 0.1)]);

  const lastAxis = ints('last_axis', [-1]);
  const mean = graph.op('norm/mean', 'Mean', [x, lastAxis], { keep_dims: attr.b(true) });
  const centered = graph.op('norm/centered', 'Sub', [x, mean]);
  const variance = graph.op('norm/variance', 'Mean', [graph.op('norm/square', 'Square', [centered]), lastAxis], { keep_dims: attr.b(true) });
  const inverse = graph.op('norm/rsqrt', 'Rsqrt', [graph.op('norm/eps', 'AddV2', [variance, graph.constant('norm/epsilon', [1e-5], [])])]);
  const normalized = graph.op('norm/out', 'AddV2', [graph.op('norm/scaled', 'Mul', [graph.op('norm/mul', 'Mul', [centered, inverse]), weight('norm/gamma', 3, [WIDTH])]), weight('norm/beta', 4, [WIDTH], 0.1)]);

  const rows = graph.op('rows', 'Reshape', [normalized, ints('rows/shape', [-1, WIDTH])]);
  const heads = (name: string, seed: number) => {
    const projected = graph.op(`${name}/matmul`, 'MatMul', [rows, weight(`${name}/w`, seed, [WIDTH, WIDTH])], { transpose_a: attr.b(false), transpose_b: attr.b(false) });
    const split = graph.op(`${name}/split_heads`, 'Reshape', [projected, ints(`${name}/heads_shape`, [-1, TOKENS, HEADS, WIDTH / HEADS])]);
    return graph.op(`${name}/transpose`, 'Transpose', [split, ints(`${name}/perm`, [0, 2, 1, 3])]);
  };
  const [query, key, value] = [heads('query', 5), heads('key', 6), heads('value', 7)];
  const scores = graph.op('attention/scores', 'BatchMatMulV2', [query, key], { adj_x: attr.b(false), adj_y: attr.b(true) });
  const scaled = graph.op('attention/scaled', 'Mul', [scores, graph.constant('attention/scale', [1 / Math.sqrt(WIDTH / HEADS)], [])]);
  const weights = graph.op('attention/softmax', 'Softmax', [scaled]);
  const context = graph.op('attention/context', 'BatchMatMulV2', [weights, value], { adj_x: attr.b(false), adj_y: attr.b(false) });
  const merged = graph.op('attention/merge', 'Transpose', [context, ints('attention/merge_perm', [0, 2, 1, 3])]);
  const attended = graph.op('attention/out', 'Reshape', [merged, ints('attention/out_shape', [-1, TOKENS, WIDTH])]);
  const residual = graph.op('residual', 'AddV2', [x, attended]);

  const first = graph.op('first_token', 'StridedSlice', [residual, ints('first/begin', [0, 0, 0]), ints('first/end', [0, 1, 0]), ints('first/strides', [1, 1, 1])], {
    Index: attr.type('DT_INT32'),
    begin_mask: attr.i(5),
    end_mask: attr.i(5),
    shrink_axis_mask: attr.i(2),
  });
  const logits = graph.op('head', '_FusedMatMul', [first, weight('head/w', 8, [3, WIDTH]), weight('head/b', 9, [3], 0.1)], {
    transpose_a: attr.b(false),
    transpose_b: attr.b(true),
    fused_ops: attr.strings(['BiasAdd']),
    num_args: attr.i(1),
  });
  graph.op('logits', 'Identity', [logits]);
  return graph;
}

export const TRANSFORMER_SHAPE = { tokens: TOKENS, vocabulary: VOCABULARY };
