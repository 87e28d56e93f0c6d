import { after, before, describe, test } from 'node:test';
import { attr, type GraphModelBuilder } from './support/graph-model-builder.js';
import { intFeed, randomFeed } from './support/graph-model-check.js';
import { GraphCaseRunner } from './support/graph-model-cases.js';

const cases = new GraphCaseRunner();
before(() => cases.start('export-graph-shapes'));
after(() => cases.finish());

const cube = { x: randomFeed([2, 3, 4], 1) };
const INT = { T: attr.type('DT_INT32') };

function ints(graph: GraphModelBuilder, name: string, values: number[], shape = [values.length]): string {
  return graph.constant(name, values, shape, 'DT_INT32');
}

function cubeInput(graph: GraphModelBuilder): string {
  return graph.placeholder('x', [-1, 3, 4]);
}

/** StridedSlice as tfjs-converter writes it: begin, end, strides constants and the five masks. */
function stridedSlice(graph: GraphModelBuilder, name: string, x: string, spec: { begin: number[]; end: number[]; strides: number[]; masks?: Partial<Record<'begin' | 'end' | 'ellipsis' | 'new_axis' | 'shrink_axis', number>> }): string {
  const masks = Object.fromEntries(Object.entries(spec.masks ?? {}).map(([mask, bits]) => [`${mask}_mask`, attr.i(bits)]));
  return graph.op(name, 'StridedSlice', [x, ints(graph, `${name}/begin`, spec.begin), ints(graph, `${name}/end`, spec.end), ints(graph, `${name}/strides`, spec.strides)], { Index: attr.type('DT_INT32'), ...masks });
}

describe('GraphModel shape ops export and match tfjs', () => {
  test('Reshape (with -1), Transpose, Squeeze with and without axes, ExpandDims with a negative axis', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      graph.op('reshape', 'Reshape', [x, ints(graph, 'shape', [-1, 2, 6])]);
      graph.op('transpose', 'Transpose', [x, ints(graph, 'perm', [2, 0, 1])]);
      const expanded = graph.op('expand', 'ExpandDims', [x, ints(graph, 'axis', [-1], [])]);
      const padded = graph.op('one', 'Reshape', [x, ints(graph, 'one_shape', [-1, 1, 3, 1, 4])]);
      graph.op('squeeze_axes', 'Squeeze', [padded], { squeeze_dims: attr.ints([1, -2]) });
      graph.op('squeeze_all', 'Squeeze', [graph.op('expand_twice', 'ExpandDims', [expanded, ints(graph, 'axis0', [1], [])])]);
    }, cube);
  });

  test('ConcatV2, Pack on a middle and a negative axis, Unpack, Split and SplitV with -1', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      const y = graph.op('y', 'Neg', [x]);
      graph.op('concat', 'ConcatV2', [x, y, ints(graph, 'concat_axis', [-1], [])], { N: attr.i(2), Tidx: attr.type('DT_INT32') });
      graph.op('pack', 'Pack', [x, y, x], { axis: attr.i(1), N: attr.i(3) });
      graph.op('pack_last', 'Pack', [x, y], { axis: attr.i(-1), N: attr.i(2) });
      graph.op('unpack', 'Unpack', [x], { axis: attr.i(1), num: attr.i(3) });
      graph.op('unpacked_0', 'Identity', ['unpack']);
      graph.op('unpacked_2', 'Identity', ['unpack:2']);
      graph.op('split', 'Split', [ints(graph, 'split_axis', [2], []), x], { num_split: attr.i(2) });
      graph.op('split_1', 'Identity', ['split:1']);
      graph.op('split_0', 'Identity', ['split:0']);
      graph.op('splitv', 'SplitV', [x, ints(graph, 'sizes', [1, -1]), ints(graph, 'splitv_axis', [1], [])], { num_split: attr.i(2) });
      graph.op('splitv_1', 'Identity', ['splitv:1']);
    }, cube);
  });

  test('StridedSlice: ranges with steps, reversed, shrink, negative bounds, ellipsis, new axes', async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 5, 6]);
      stridedSlice(graph, 'range', x, { begin: [0, 1, 0], end: [0, 4, 6], strides: [1, 1, 2], masks: { begin: 1, end: 1 } });
      stridedSlice(graph, 'reversed', x, { begin: [0, 0], end: [0, 0], strides: [1, -1], masks: { begin: 3, end: 3 } });
      stridedSlice(graph, 'reversed_part', x, { begin: [0, 3], end: [0, 0], strides: [1, -2], masks: { begin: 1, end: 1 } });
      stridedSlice(graph, 'shrink_middle', x, { begin: [0, 1], end: [0, 2], strides: [1, 1], masks: { begin: 1, end: 1, shrink_axis: 2 } });
      stridedSlice(graph, 'shrink_last_row', x, { begin: [0, -1], end: [0, 0], strides: [1, 1], masks: { begin: 1, end: 1, shrink_axis: 2 } });
      stridedSlice(graph, 'negative', x, { begin: [0, -4, -5], end: [0, -1, 100], strides: [1, 1, 1], masks: { begin: 1, end: 1 } });
      stridedSlice(graph, 'ellipsis', x, { begin: [0, 1], end: [0, 3], strides: [1, 1], masks: { ellipsis: 1 } });
      stridedSlice(graph, 'new_axis', x, { begin: [0, 0, 2], end: [0, 0, 3], strides: [1, 1, 1], masks: { begin: 1, end: 1, new_axis: 2, shrink_axis: 4 } });
      stridedSlice(graph, 'ellipsis_new_axis', x, { begin: [0, 0], end: [0, 0], strides: [1, 1], masks: { ellipsis: 1, new_axis: 2 } });
    }, { x: randomFeed([2, 5, 6], 2) });
  });

  test('StridedSlice with run-time begin and end, masks and a shrunk axis', async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('x', [-1, 5, 6]);
      const begin = graph.placeholder('begin', [3], 'DT_INT32');
      const end = graph.placeholder('end', [3], 'DT_INT32');
      const slice = (name: string, strides: number[], masks: Record<string, number>) =>
        graph.op(name, 'StridedSlice', [x, begin, end, ints(graph, `${name}/strides`, strides)], {
          Index: attr.type('DT_INT32'),
          ...Object.fromEntries(Object.entries(masks).map(([mask, bits]) => [`${mask}_mask`, attr.i(bits)])),
        });
      slice('plain', [1, 1, 2], {});
      slice('masked', [1, -1, 1], { begin: 3, end: 4 });
      slice('shrunk', [1, 1, 1], { begin: 1, end: 1, shrink_axis: 6 });
    }, { x: randomFeed([2, 5, 6], 9), begin: intFeed([0, -1, 1], [3]), end: intFeed([2, 1, -1], [3]) });
  });

  test('Slice with constant bounds (size -1) and run-time bounds', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      graph.op('constant_bounds', 'Slice', [x, ints(graph, 'begin', [0, 1, 1]), ints(graph, 'size', [-1, 2, -1])], { Index: attr.type('DT_INT32') });
      const begin = graph.placeholder('begin', [3], 'DT_INT32');
      const size = graph.placeholder('size', [3], 'DT_INT32');
      graph.op('runtime_bounds', 'Slice', [x, begin, size], { Index: attr.type('DT_INT32') });
    }, { ...cube, begin: intFeed([1, 0, 2], [3]), size: intFeed([-1, 2, 2], [3]) });
  });

  test('GatherV2 on two axes, Gather, GatherNd', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      const indices = graph.placeholder('indices', [-1], 'DT_INT32');
      graph.op('gather_rows', 'GatherV2', [x, indices, ints(graph, 'axis0', [0], [])], { batch_dims: attr.i(0), Tindices: attr.type('DT_INT32') });
      graph.op('gather_columns', 'GatherV2', [x, ints(graph, 'columns', [3, 0, 3, 1], [2, 2]), ints(graph, 'axis2', [2], [])], { batch_dims: attr.i(0) });
      graph.op('gather_v1', 'Gather', [x, indices]);
      graph.op('gather_nd', 'GatherNd', [x, ints(graph, 'coordinates', [1, 2, 0, 0, 1, 1], [3, 2])], { Tindices: attr.type('DT_INT32') });
    }, { ...cube, indices: intFeed([1, 0, 1], [3]) });
  });

  test('Pad, PadV2 with a value, MirrorPad REFLECT and SYMMETRIC (width 1)', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      const paddings = ints(graph, 'paddings', [0, 0, 1, 2, 2, 1], [3, 2]);
      graph.op('pad', 'Pad', [x, paddings], { Tpaddings: attr.type('DT_INT32') });
      graph.op('pad_v2', 'PadV2', [x, paddings, graph.constant('value', [0.5], [])]);
      graph.op('reflect', 'MirrorPad', [x, paddings], { mode: attr.s('REFLECT') });
      graph.op('symmetric', 'MirrorPad', [x, ints(graph, 'unit_paddings', [0, 0, 1, 1, 0, 1], [3, 2])], { mode: attr.s('SYMMETRIC') });
    }, cube);
  });

  test('dynamic Reshape from Shape -> StridedSlice -> Pack, with a batch size other than the declared one', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      const shape = graph.op('shape', 'Shape', [x], { out_type: attr.type('DT_INT32') });
      const batch = stridedSlice(graph, 'batch', shape, { begin: [0], end: [1], strides: [1], masks: { shrink_axis: 1 } });
      const target = graph.op('target', 'Pack', [batch, ints(graph, 'minus_one', [-1], [])], { axis: attr.i(0), N: attr.i(2), ...INT });
      graph.op('flat', 'Reshape', [x, target]);
    }, { x: randomFeed([5, 3, 4], 3) });
  });

  test('Cast, Fill, Range, Tile, ZerosLike, OnesLike', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      const asInt = graph.op('as_int', 'Cast', [x], { SrcT: attr.type('DT_FLOAT'), DstT: attr.type('DT_INT32') });
      graph.op('back_to_float', 'Cast', [asInt], { SrcT: attr.type('DT_INT32'), DstT: attr.type('DT_FLOAT') });
      graph.op('fill', 'Fill', [ints(graph, 'dims', [2, 3]), graph.constant('fill_value', [1.25], [])], { index_type: attr.type('DT_INT32') });
      graph.op('range', 'Range', [ints(graph, 'start', [2], []), ints(graph, 'limit', [11], []), ints(graph, 'delta', [3], [])], { Tidx: attr.type('DT_INT32') });
      graph.op('float_range', 'Range', [graph.constant('fstart', [0.5], []), graph.constant('flimit', [2], []), graph.constant('fdelta', [0.25], [])], { Tidx: attr.type('DT_FLOAT') });
      graph.op('tile', 'Tile', [x, ints(graph, 'multiples', [1, 2, 3])], { Tmultiples: attr.type('DT_INT32') });
      graph.op('zeros', 'ZerosLike', [x]);
      graph.op('ones', 'OnesLike', [x]);
    }, cube);
  });

  test('BroadcastTo, ReverseV2, Rank, Size, ShapeN, OneHot (negative and too large indices give all-off rows)', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      graph.op('broadcast', 'BroadcastTo', [graph.constant('row', [1, 2, 3, 4], [4]), ints(graph, 'target', [2, 3, 4])], { Tidx: attr.type('DT_INT32') });
      graph.op('reversed', 'ReverseV2', [x, ints(graph, 'reverse_axes', [0, 2])], { Tidx: attr.type('DT_INT32') });
      graph.op('rank', 'Rank', [x]);
      graph.op('size', 'Size', [x], { out_type: attr.type('DT_INT32') });
      graph.op('shapes', 'ShapeN', [x, graph.op('row_sum', 'Sum', [x, ints(graph, 'sum_axis', [1], [])])], { N: attr.i(2), out_type: attr.type('DT_INT32') });
      graph.op('shape_0', 'Identity', ['shapes:0'], INT);
      graph.op('shape_1', 'Identity', ['shapes:1'], INT);
      const labels = graph.placeholder('labels', [-1], 'DT_INT32');
      graph.op('one_hot', 'OneHot', [labels, ints(graph, 'depth', [4], []), graph.constant('on', [2], []), graph.constant('off', [-0.5], [])], { axis: attr.i(-1), TI: attr.type('DT_INT32') });
    }, { ...cube, labels: intFeed([0, 3, -1, 4, 2], [5]) });
  });

  test('pass-through ops (Identity, Snapshot, StopGradient, IdentityN, PlaceholderWithDefault) and Concat v1', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      const defaulted = graph.op('scale', 'PlaceholderWithDefault', [graph.constant('scale_default', [3], [])], { dtype: attr.type('DT_FLOAT'), shape: attr.shape([]) });
      const chain = graph.op('stopped', 'StopGradient', [graph.op('snapshot', 'Snapshot', [graph.op('identity', 'Identity', [x])])]);
      graph.op('pair', 'IdentityN', [chain, defaulted], { T: { list: { type: ['DT_FLOAT', 'DT_FLOAT'] } } });
      graph.op('scaled', 'Mul', ['pair:0', 'pair:1']);
      graph.op('joined', 'Concat', [ints(graph, 'concat_axis', [1], []), x, chain], { N: attr.i(2) });
      graph.signatureInput('x', 'x:0');
      graph.signatureOutput('scaled', 'scaled:0');
      graph.signatureOutput('joined', 'joined:0');
    }, cube);
  });

  test('Where (coordinates of true elements) and Select', async () => {
    await cases.check((graph) => {
      const x = cubeInput(graph);
      graph.op('where', 'Where', [graph.op('positive', 'Greater', [x, graph.constant('zero', [0], [])])], { T: attr.type('DT_BOOL') });
      const mask = graph.placeholder('mask', [-1, 3, 4], 'DT_BOOL');
      graph.op('select', 'Select', [mask, x, graph.op('negated', 'Neg', [x])]);
    }, { ...cube, mask: { values: Uint8Array.from({ length: 24 }, (_, index) => index % 3 === 0 ? 1 : 0), shape: [2, 3, 4], dtype: 'bool' } });
  });
});
