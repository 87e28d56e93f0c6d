import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { attr, type GraphModelBuilder } from './support/graph-model-builder.js';
import { assertOutputsMatch, randomFeed, runOnnx, runTfjs } from './support/graph-model-check.js';
import { convertGraphModel } from '../src/export/graph/convert-graph-model.js';
import { DEFAULT_EXPORT_OPTIONS } from '../src/export/export-contract.js';
import { loadTfjsModel } from '../src/tfjs/load-tfjs-model.js';
import { count, GraphCaseRunner, seededValues } from './support/graph-model-cases.js';

const cases = new GraphCaseRunner();
before(() => cases.start('export-graph-conv'));
after(() => cases.finish());

const image = { image: randomFeed([2, 7, 7, 3], 1) };

function input(graph: GraphModelBuilder): string {
  return graph.placeholder('image', [-1, 7, 7, 3]);
}

function filter(graph: GraphModelBuilder, name: string, shape: number[], seed: number): string {
  return graph.constant(name, seededValues(seed, count(shape)), shape);
}

function window(strides: number[], padding: string, extra: Record<string, Record<string, unknown>> = {}) {
  return { strides: attr.ints(strides), padding: attr.s(padding), data_format: attr.s('NHWC'), dilations: attr.ints([1, 1, 1, 1]), ...extra };
}

/** ONNX of a fused graph tfjs cannot run, against tfjs running the same computation unfused. */
async function checkAgainstUnfused(fused: (graph: GraphModelBuilder) => void, unfused: (graph: GraphModelBuilder) => void): Promise<string[]> {
  const exported = await convertGraphModel(await loadTfjsModel(await cases.save(fused)), DEFAULT_EXPORT_OPTIONS);
  assertOutputsMatch({ exported, tfjs: await runTfjs(await cases.save(unfused), image), onnx: await runOnnx(exported, image) });
  return exported.proto.graph!.node!.map((node) => node.op_type!);
}

describe('GraphModel convolutions export and match tfjs', () => {
  const plain: Array<[string, number[], string, Record<string, Record<string, unknown>>]> = [
    ['VALID, stride 1', [1, 1, 1, 1], 'VALID', {}],
    ['SAME, stride 2', [1, 2, 2, 1], 'SAME', {}],
    ['VALID, dilation 2', [1, 1, 1, 1], 'VALID', { dilations: attr.ints([1, 2, 2, 1]) }],
    ['EXPLICIT paddings', [1, 2, 1, 1], 'EXPLICIT', { explicit_paddings: attr.ints([0, 0, 1, 2, 0, 1, 0, 0]) }],
  ];
  for (const [label, strides, padding, extra] of plain) {
    test(`Conv2D ${label}`, async () => {
      await cases.check((graph) => {
        graph.op('out', 'Conv2D', [input(graph), filter(graph, 'w', [3, 3, 3, 4], 10)], window(strides, padding, extra));
      }, image);
    });
  }

  test('Conv2D SAME with an even kernel: the odd padding row and column go bottom and right, as in TF', async () => {
    await cases.check((graph) => {
      graph.op('out', 'Conv2D', [input(graph), filter(graph, 'w', [2, 2, 3, 4], 19)], window([1, 1, 1, 1], 'SAME'));
    }, image);
  });

  test('DepthwiseConv2dNative with channel multiplier 2, SAME', async () => {
    await cases.check((graph) => {
      graph.op('out', 'DepthwiseConv2dNative', [input(graph), filter(graph, 'w', [3, 3, 3, 2], 11)], window([1, 1, 1, 1], 'SAME', { dilations: attr.ints([1, 1, 1, 1]) }));
    }, image);
  });

  for (const activation of ['Relu', 'Relu6', 'Elu', 'LeakyRelu', 'Sigmoid']) {
    test(`_FusedConv2D BiasAdd + ${activation}`, async () => {
      await cases.check((graph) => {
        const bias = graph.constant('b', seededValues(12, 4), [4]);
        graph.op('out', '_FusedConv2D', [input(graph), filter(graph, 'w', [3, 3, 3, 4], 13), bias], {
          ...window([1, 1, 1, 1], 'SAME'),
          fused_ops: attr.strings(['BiasAdd', activation]),
          num_args: attr.i(1),
          leakyrelu_alpha: attr.f(0.1),
        });
      }, image);
    });
  }

  test('_FusedConv2D BiasAdd + Prelu (per-channel slopes)', async () => {
    await cases.check((graph) => {
      const bias = graph.constant('b', seededValues(14, 4), [4]);
      const slopes = graph.constant('alpha', seededValues(15, 4, 0, 0.5), [4]);
      graph.op('out', '_FusedConv2D', [input(graph), filter(graph, 'w', [3, 3, 3, 4], 16), bias, slopes], {
        ...window([1, 2, 2, 1], 'VALID'),
        fused_ops: attr.strings(['BiasAdd', 'Prelu']),
        num_args: attr.i(2),
      });
    }, image);
  });

  test('FusedDepthwiseConv2dNative BiasAdd + Relu6, stride 2', async () => {
    await cases.check((graph) => {
      const bias = graph.constant('b', seededValues(17, 3), [3]);
      graph.op('out', 'FusedDepthwiseConv2dNative', [input(graph), filter(graph, 'w', [3, 3, 3, 1], 18), bias], {
        ...window([1, 2, 2, 1], 'SAME'),
        fused_ops: attr.strings(['BiasAdd', 'Relu6']),
        num_args: attr.i(1),
      });
    }, image);
  });

  test('_FusedConv2D BiasAdd + Tanh (a TF fusion tfjs has no kernel for) matches Conv2D -> BiasAdd -> Tanh in tfjs', async () => {
    const bias = (graph: GraphModelBuilder) => graph.constant('b', seededValues(19, 4), [4]);
    await checkAgainstUnfused(
      (graph) => {
        graph.op('out', '_FusedConv2D', [input(graph), filter(graph, 'w', [3, 3, 3, 4], 13), bias(graph)], {
          ...window([1, 1, 1, 1], 'SAME'),
          fused_ops: attr.strings(['BiasAdd', 'Tanh']),
          num_args: attr.i(1),
        });
      },
      (graph) => {
        const conv = graph.op('conv', 'Conv2D', [input(graph), filter(graph, 'w', [3, 3, 3, 4], 13)], window([1, 1, 1, 1], 'SAME'));
        graph.op('out', 'Tanh', [graph.op('biased', 'BiasAdd', [conv, bias(graph)], { data_format: attr.s('NHWC') })]);
      },
    );
  });

  test('_FusedConv2D with FusedBatchNorm (which tfjs cannot run) matches Conv2D -> FusedBatchNormV3 -> Relu in tfjs', async () => {
    const parameters = (graph: GraphModelBuilder) => [
      graph.constant('scale', seededValues(20, 4, 0.5, 1.5), [4]),
      graph.constant('offset', seededValues(21, 4), [4]),
      graph.constant('mean', seededValues(22, 4), [4]),
      graph.constant('variance', seededValues(23, 4, 0.5, 2), [4]),
    ];
    const ops = await checkAgainstUnfused(
      (graph) => {
        graph.op('out', '_FusedConv2D', [input(graph), filter(graph, 'w', [3, 3, 3, 4], 24), ...parameters(graph)], {
          ...window([1, 1, 1, 1], 'SAME'),
          fused_ops: attr.strings(['FusedBatchNorm', 'Relu']),
          num_args: attr.i(4),
          epsilon: attr.f(0.001),
        });
      },
      (graph) => {
        const conv = graph.op('conv', 'Conv2D', [input(graph), filter(graph, 'w', [3, 3, 3, 4], 24)], window([1, 1, 1, 1], 'SAME'));
        const norm = graph.op('norm', 'FusedBatchNormV3', [conv, ...parameters(graph)], { epsilon: attr.f(0.001), data_format: attr.s('NHWC') });
        graph.op('out', 'Relu', [norm]);
      },
    );
    assert.deepEqual(ops, ['Transpose', 'Conv', 'BatchNormalization', 'Relu', 'Transpose']);
  });

  test('FusedBatchNormV3 on a 4-D and on a 2-D tensor', async () => {
    await cases.check((graph) => {
      const x = input(graph);
      const vector = graph.placeholder('vector', [-1, 3]);
      const parameters = [
        graph.constant('scale', seededValues(30, 3, 0.5, 1.5), [3]),
        graph.constant('offset', seededValues(31, 3), [3]),
        graph.constant('mean', seededValues(32, 3), [3]),
        graph.constant('variance', seededValues(33, 3, 0.5, 2), [3]),
      ];
      graph.op('image_norm', 'FusedBatchNormV3', [x, ...parameters], { epsilon: attr.f(0.001), data_format: attr.s('NHWC') });
      graph.op('vector_norm', 'FusedBatchNorm', [vector, ...parameters], { epsilon: attr.f(0.01) });
    }, { ...image, vector: randomFeed([4, 3], 34) });
  });

  test('MaxPool VALID stride 2 and AvgPool SAME 3x3 stride 2 (padding left out of the average)', async () => {
    await cases.check((graph) => {
      const x = input(graph);
      graph.op('max', 'MaxPool', [x], { ...window([1, 2, 2, 1], 'VALID'), ksize: attr.ints([1, 2, 2, 1]) });
      graph.op('average', 'AvgPool', [x], { ...window([1, 2, 2, 1], 'SAME'), ksize: attr.ints([1, 3, 3, 1]) });
      graph.op('average_even', 'AvgPool', [x], { ...window([1, 1, 1, 1], 'SAME'), ksize: attr.ints([1, 2, 2, 1]) });
      graph.op('max_even', 'MaxPool', [x], { ...window([1, 1, 1, 1], 'SAME'), ksize: attr.ints([1, 2, 2, 1]) });
    }, image);
  });

  for (const [label, padding, size] of [
    ['SAME, 7 -> 14', 'SAME', 14],
    ['SAME, 7 -> 13', 'SAME', 13],
    ['VALID, 7 -> 15', 'VALID', 15],
    ['VALID, 7 -> 16 (a row the strides cannot reach)', 'VALID', 16],
  ] as const) {
    test(`Conv2DBackpropInput (transposed conv) stride 2, ${label}`, async () => {
      await cases.check((graph) => {
        const sizes = graph.constant('sizes', [2, size, size, 4], [4], 'DT_INT32');
        graph.op('out', 'Conv2DBackpropInput', [sizes, filter(graph, 'w', [3, 3, 4, 3], 41), input(graph)], window([1, 2, 2, 1], padding));
      }, image);
    });
  }

  test('dilated conv the TF way: SpaceToBatchND (padded) -> Conv2D VALID -> BatchToSpaceND (cropped)', async () => {
    await cases.check((graph) => {
      const x = input(graph);
      const batched = graph.op('to_batch', 'SpaceToBatchND', [x, graph.constant('block', [2, 2], [2], 'DT_INT32'), graph.constant('paddings', [2, 3, 2, 3], [2, 2], 'DT_INT32')]);
      const conv = graph.op('conv', 'Conv2D', [batched, filter(graph, 'w', [3, 3, 3, 4], 43)], window([1, 1, 1, 1], 'VALID'));
      graph.op('out', 'BatchToSpaceND', [conv, graph.constant('block2', [2, 2], [2], 'DT_INT32'), graph.constant('crops', [0, 1, 0, 1], [2, 2], 'DT_INT32')]);
    }, image);
  });

  test('DepthToSpace block 2 and LRN', async () => {
    await cases.check((graph) => {
      const x = graph.placeholder('deep', [-1, 3, 3, 8]);
      graph.op('space', 'DepthToSpace', [x], { block_size: attr.i(2), data_format: attr.s('NHWC') });
      graph.op('lrn', 'LRN', [x], { depth_radius: attr.i(2), bias: attr.f(1.5), alpha: attr.f(0.3), beta: attr.f(0.75) });
    }, { deep: randomFeed([2, 3, 3, 8], 42) });
  });

  test('BiasAdd on a 4-D tensor', async () => {
    await cases.check((graph) => {
      graph.op('out', 'BiasAdd', [input(graph), graph.constant('b', seededValues(40, 3), [3])], { data_format: attr.s('NHWC') });
    }, image);
  });
});

describe('GraphModel image resizing exports and matches tfjs', () => {
  const rules: Array<[string, Record<string, Record<string, unknown>>]> = [
    ['asymmetric (TF default)', {}],
    ['align_corners', { align_corners: attr.b(true) }],
    ['half_pixel_centers', { half_pixel_centers: attr.b(true) }],
  ];
  for (const opset of [13, 18]) {
    for (const [label, flags] of rules) {
      test(`ResizeBilinear and ResizeNearestNeighbor up and down, ${label}, opset ${opset}`, async () => {
        await cases.check((graph) => {
          const x = input(graph);
          for (const op of ['ResizeBilinear', 'ResizeNearestNeighbor']) {
            graph.op(`${op}_up`, op, [x, graph.constant(`${op}_up_size`, [10, 12], [2], 'DT_INT32')], flags);
            graph.op(`${op}_down`, op, [x, graph.constant(`${op}_down_size`, [4, 5], [2], 'DT_INT32')], flags);
          }
        }, image, { opset });
      });
    }
  }
});
