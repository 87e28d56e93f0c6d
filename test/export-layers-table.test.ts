import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { exportAndCompare, opTypes, setSeededWeights, tf, useCpuBackend, type ExportCheckOptions } from './support/export-layers-harness.js';

/**
 * One tiny model per layer family (or setting), exported and run in tfjs and onnxruntime on the same seeded
 * inputs: the outputs must agree to 1e-4 relative (max |tfjs - onnx| / max |tfjs|).
 */

const TOLERANCE = 1e-4;
type Tensor = tf.SymbolicTensor;

interface LayerCase {
  name: string;
  build: () => tf.LayersModel;
  options?: ExportCheckOptions;
  /** ONNX op types the export must contain (the layer went where it should). */
  expectOps?: string[];
}

let seed = 1000;

/** input -> layers in order -> model; weights seeded. */
function chain(inputShape: number[], ...layers: tf.layers.Layer[]): tf.LayersModel {
  const input = tf.input({ shape: inputShape, name: 'x' });
  let value: Tensor = input;
  for (const layer of layers) value = layer.apply(value) as Tensor;
  const model = tf.model({ inputs: input, outputs: value });
  setSeededWeights(model, seed++);
  return model;
}

function branches(inputShape: number[], make: (input: Tensor) => Tensor[]): tf.LayersModel {
  const input = tf.input({ shape: inputShape, name: 'x' });
  const model = tf.model({ inputs: input, outputs: make(input) });
  setSeededWeights(model, seed++);
  return model;
}

const ACTIVATION_NAMES = ['relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softmax', 'softplus', 'softsign', 'swish', 'mish', 'gelu', 'gelu_new', 'linear', 'logSoftmax'] as const;

const CASES: LayerCase[] = [
  {
    name: 'Dense with every tfjs activation (one output each)',
    build: () =>
      branches([6], (input) => ACTIVATION_NAMES.map((activation) => tf.layers.dense({ units: 5, activation: activation as never, name: `dense_${activation}` }).apply(input) as Tensor)),
    options: { values: [(count, random) => Float32Array.from({ length: count }, () => random.normal(3))] },
  },
  { name: 'Dense on a rank-3 input', build: () => chain([4, 6], tf.layers.dense({ units: 3, useBias: false })), expectOps: ['MatMul'] },
  { name: 'Conv1D valid, strided', build: () => chain([9, 3], tf.layers.conv1d({ filters: 4, kernelSize: 3, strides: 2 })), expectOps: ['Conv'] },
  { name: 'Conv1D same, dilated', build: () => chain([9, 3], tf.layers.conv1d({ filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2 })) },
  { name: 'Conv2D same, stride 2, relu', build: () => chain([7, 7, 3], tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })) },
  {
    name: 'Conv2D same, stride 2, open spatial size',
    build: () => chain([null, null, 2] as unknown as number[], tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' })),
    options: { shapes: [[1, 9, 8, 2]] },
  },
  { name: 'Conv2D valid, no bias', build: () => chain([6, 5, 2], tf.layers.conv2d({ filters: 3, kernelSize: [3, 2], useBias: false })) },
  { name: 'Conv3D', build: () => chain([4, 5, 5, 2], tf.layers.conv3d({ filters: 3, kernelSize: 2, padding: 'same' })) },
  { name: 'Conv2DTranspose same, stride 2', build: () => chain([4, 4, 3], tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' })), expectOps: ['ConvTranspose'] },
  { name: 'Conv2DTranspose valid', build: () => chain([4, 3, 3], tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2 })) },
  { name: 'DepthwiseConv2D, multiplier 2', build: () => chain([6, 6, 3], tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same' })) },
  { name: 'SeparableConv2D', build: () => chain([6, 6, 3], tf.layers.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2 })) },
  { name: 'BatchNormalization (NHWC)', build: () => chain([4, 4, 3], tf.layers.batchNormalization({ epsilon: 0.01 })), expectOps: ['BatchNormalization'] },
  { name: 'BatchNormalization (features) without scale/center', build: () => chain([5], tf.layers.batchNormalization({ scale: false, center: false })) },
  { name: 'LayerNormalization', build: () => chain([3, 6], tf.layers.layerNormalization({ epsilon: 1e-3 })), expectOps: ['LayerNormalization'] },
  { name: 'LayerNormalization at opset 13 (decomposed)', build: () => chain([3, 6], tf.layers.layerNormalization({})), options: { opset: 13 } },
  {
    name: 'ReLU(maxValue), LeakyReLU, PReLU, ELU, ThresholdedReLU, Softmax layers',
    build: () =>
      branches([3, 4], (input) => [
        tf.layers.reLU({ maxValue: 0.5 }).apply(input) as Tensor,
        tf.layers.leakyReLU({ alpha: 0.2 }).apply(input) as Tensor,
        tf.layers.prelu({}).apply(input) as Tensor,
        tf.layers.elu({}).apply(input) as Tensor,
        tf.layers.thresholdedReLU({ theta: 0.5 }).apply(input) as Tensor,
        tf.layers.softmax({ axis: -1 }).apply(input) as Tensor,
      ]),
  },
  {
    name: 'MaxPooling / AveragePooling 1D and 2D, valid and same',
    build: () =>
      branches([7, 7, 2], (input) => {
        const sequence = tf.layers.reshape({ targetShape: [49, 2] }).apply(input) as Tensor;
        return [
          tf.layers.maxPooling2d({ poolSize: 2 }).apply(input) as Tensor,
          tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(input) as Tensor,
          tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(input) as Tensor,
          tf.layers.maxPooling1d({ poolSize: 3 }).apply(sequence) as Tensor,
          tf.layers.averagePooling1d({ poolSize: 4, strides: 3, padding: 'same' }).apply(sequence) as Tensor,
        ];
      }),
  },
  {
    name: 'GlobalMax / GlobalAverage pooling 1D and 2D',
    build: () =>
      branches([5, 4, 3], (input) => {
        const sequence = tf.layers.reshape({ targetShape: [20, 3] }).apply(input) as Tensor;
        return [
          tf.layers.globalMaxPooling2d({}).apply(input) as Tensor,
          tf.layers.globalAveragePooling2d({}).apply(input) as Tensor,
          tf.layers.globalMaxPooling1d({}).apply(sequence) as Tensor,
          tf.layers.globalAveragePooling1d({}).apply(sequence) as Tensor,
        ];
      }),
  },
  {
    name: 'Flatten, Reshape, Permute, RepeatVector, Dropout family',
    build: () =>
      branches([2, 3, 4], (input) => [
        tf.layers.flatten({}).apply(input) as Tensor,
        tf.layers.reshape({ targetShape: [4, -1] }).apply(input) as Tensor,
        tf.layers.permute({ dims: [3, 1, 2] }).apply(input) as Tensor,
        tf.layers.repeatVector({ n: 3 }).apply(tf.layers.flatten({}).apply(input) as Tensor) as Tensor,
        tf.layers.dropout({ rate: 0.5 }).apply(tf.layers.spatialDropout1d({ rate: 0.3 }).apply(tf.layers.reshape({ targetShape: [6, 4] }).apply(input) as Tensor) as Tensor) as Tensor,
        tf.layers.gaussianNoise({ stddev: 1 }).apply(tf.layers.gaussianDropout({ rate: 0.2 }).apply(tf.layers.alphaDropout({ rate: 0.2 }).apply(input) as Tensor) as Tensor) as Tensor,
      ]),
  },
  {
    name: 'Embedding',
    build: () => chain([5], tf.layers.embedding({ inputDim: 11, outputDim: 4 })),
    options: { values: [(count, random) => Float32Array.from({ length: count }, () => Math.floor(random.next() * 11))] },
    expectOps: ['Gather'],
  },
  {
    name: 'Add, Multiply, Average, Maximum, Minimum, Concatenate',
    build: () =>
      branches([3, 4], (input) => {
        const a = tf.layers.dense({ units: 4 }).apply(input) as Tensor;
        const b = tf.layers.dense({ units: 4 }).apply(input) as Tensor;
        return [
          tf.layers.add().apply([input, a, b]) as Tensor,
          tf.layers.multiply().apply([input, a, b]) as Tensor,
          tf.layers.average().apply([a, b, input]) as Tensor,
          tf.layers.maximum().apply([a, b]) as Tensor,
          tf.layers.minimum().apply([a, b, input]) as Tensor,
          tf.layers.concatenate({ axis: 1 }).apply([a, b]) as Tensor,
          tf.layers.concatenate({}).apply([input, a]) as Tensor,
        ];
      }),
  },
  {
    name: 'Dot of rank 2 and rank 3 tensors, normalized too',
    build: () =>
      branches([3, 4], (input) => {
        const flat = tf.layers.flatten({}).apply(input) as Tensor;
        const other = tf.layers.dense({ units: 12 }).apply(flat) as Tensor;
        const seq = tf.layers.dense({ units: 4 }).apply(input) as Tensor;
        const vector = tf.layers.dense({ units: 4 }).apply(flat) as Tensor;
        return [
          tf.layers.dot({ axes: 1 }).apply([flat, other]) as Tensor,
          tf.layers.dot({ axes: 1, normalize: true }).apply([flat, other]) as Tensor,
          tf.layers.dot({ axes: 2 }).apply([input, seq]) as Tensor,
          tf.layers.dot({ axes: [1, 1] }).apply([input, seq]) as Tensor,
          tf.layers.dot({ axes: [2, 1] }).apply([input, vector]) as Tensor,
        ];
      }),
  },
  {
    name: 'ZeroPadding2D, Cropping2D, UpSampling2D nearest and bilinear',
    build: () =>
      branches([5, 6, 2], (input) => [
        tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }).apply(input) as Tensor,
        tf.layers.cropping2D({ cropping: [[1, 0], [2, 1]] }).apply(input) as Tensor,
        tf.layers.upSampling2d({ size: [2, 3] }).apply(input) as Tensor,
        tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(input) as Tensor,
      ]),
  },
  {
    name: 'LSTM: sequences and last state, forwards and go_backwards, default hard_sigmoid gates',
    build: () =>
      branches([5, 3], (input) => [
        tf.layers.lstm({ units: 4, returnSequences: true }).apply(input) as Tensor,
        tf.layers.lstm({ units: 4, goBackwards: true }).apply(input) as Tensor,
        tf.layers.lstm({ units: 3, returnSequences: true, goBackwards: true, recurrentActivation: 'sigmoid' }).apply(input) as Tensor,
      ]),
    expectOps: ['LSTM'],
  },
  {
    name: 'GRU and SimpleRNN',
    build: () =>
      branches([6, 3], (input) => [
        tf.layers.gru({ units: 4, returnSequences: true }).apply(input) as Tensor,
        tf.layers.gru({ units: 2, goBackwards: true, activation: 'relu', recurrentActivation: 'sigmoid' }).apply(input) as Tensor,
        tf.layers.simpleRNN({ units: 3, returnSequences: true }).apply(input) as Tensor,
        tf.layers.simpleRNN({ units: 3, goBackwards: true, returnSequences: true }).apply(input) as Tensor,
      ]),
    expectOps: ['GRU', 'RNN'],
  },
  {
    name: 'Bidirectional LSTM/GRU in concat, sum, ave and mul modes',
    build: () =>
      branches([5, 3], (input) => [
        tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true }) as never }).apply(input) as Tensor,
        tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3 }) as never, mergeMode: 'sum' }).apply(input) as Tensor,
        tf.layers.bidirectional({ layer: tf.layers.gru({ units: 2, returnSequences: true }) as never, mergeMode: 'ave' }).apply(input) as Tensor,
        tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 2 }) as never, mergeMode: 'mul' }).apply(input) as Tensor,
        tf.layers.bidirectional({ layer: tf.layers.gru({ units: 2 }) as never }).apply(input) as Tensor,
      ]),
  },
  {
    name: 'TimeDistributed Dense and Conv2D',
    build: () =>
      branches([3, 4, 4, 2], (input) => [
        tf.layers.timeDistributed({ layer: tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }) }).apply(input) as Tensor,
        tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, activation: 'tanh' }) }).apply(tf.layers.reshape({ targetShape: [3, 32] }).apply(input) as Tensor) as Tensor,
      ]),
  },
  {
    name: 'Sequential model with an implicit input',
    build: () => {
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 6, activation: 'relu' }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
      setSeededWeights(model, seed++);
      return model;
    },
  },
];

describe('every layer family exports and matches tfjs', () => {
  before(useCpuBackend);
  for (const layerCase of CASES) {
    test(layerCase.name, async () => {
      const model = layerCase.build();
      try {
        const check = await exportAndCompare(model, layerCase.options);
        const detail = check.outputs.map((output) => `${output.output}: ${output.relativeError.toExponential(2)}`).join(', ');
        assert.ok(check.worst <= TOLERANCE, `relative error above ${TOLERANCE}: ${detail}`);
        for (const op of layerCase.expectOps ?? []) assert.ok(opTypes(check.proto).includes(op), `no ${op} among ${opTypes(check.proto).join(', ')}`);
      } finally {
        model.dispose();
      }
    });
  }
});
