import { applyActivation } from './activations.js';
import { permuteValues } from '../layout/transpose-perms.js';
import { inChannelsFirst } from './common-ops.js';
import { channelsFirstSetting, configBoolean, configNumber, configTuple, type KerasValue, type LayerConverter, type LayerEmitContext, type UnsupportedSetting } from './layer-converter.js';
import { slidingWindowPadding, transposedConvPadding } from './spatial-geometry.js';

/** Dense and the convolution family: Keras kernels are re-laid out once into ONNX's weight order. */

function withActivation(layer: LayerEmitContext, value: KerasValue): KerasValue {
  return { name: applyActivation(layer.emitter, value.name, layer.config.activation, `${layer.name}_${String(layer.config.activation ?? 'linear')}`), shape: value.shape };
}

const dense: LayerConverter = {
  convert(layer, [input]) {
    const kernel = layer.weights.get('kernel');
    const [inputSize, units] = kernel.shape as [number, number];
    let output = layer.emitter.op('MatMul', [input!.name, layer.constant('kernel', [inputSize, units], () => kernel.values)], {}, layer.name);
    if (configBoolean(layer.config, 'use_bias', true)) {
      output = layer.emitter.op('Add', [output, layer.constant('bias', [units], () => layer.weights.get('bias').values)], {}, `${layer.name}_bias`);
    }
    return [withActivation(layer, { name: output, shape: [...input!.shape.slice(0, -1), units] })];
  },
};

/** Keras conv kernel [...k, in/groups, out] -> ONNX [out, in/groups, ...k]. */
function convKernelPerm(spatialRank: number): number[] {
  return [spatialRank + 1, spatialRank, ...Array.from({ length: spatialRank }, (_, axis) => axis)];
}

function convUnsupported(config: Record<string, unknown>): UnsupportedSetting[] {
  return channelsFirstSetting(config);
}

function convolution(spatialRank: number): LayerConverter {
  return {
    unsupported: convUnsupported,
    convert(layer, [input]) {
      const { config, emitter } = layer;
      const kernel = layer.weights.get('kernel');
      const kernelSize = kernel.shape.slice(0, spatialRank);
      const filters = kernel.shape[spatialRank + 1]!;
      const strides = configTuple(config, 'strides', spatialRank, 1);
      const dilations = configTuple(config, 'dilation_rate', spatialRank, 1);
      const groups = configNumber(config, 'groups', 1);
      const padding = slidingWindowPadding(String(config.padding ?? 'valid'), input!.shape.slice(1, -1), kernelSize, strides, dilations);
      const weights = [layer.constant('kernel', [filters, kernel.shape[spatialRank]!, ...kernelSize], () => permuteValues(kernel.values, kernel.shape, convKernelPerm(spatialRank)))];
      if (configBoolean(config, 'use_bias', true)) weights.push(layer.constant('bias', [filters], () => layer.weights.get('bias').values));
      const output = inChannelsFirst(emitter, input!, layer.name, (x) =>
        emitter.op('Conv', [x, ...weights], { kernel_shape: kernelSize, strides, dilations, group: groups, ...padding.attributes }, layer.name),
      );
      return [withActivation(layer, { name: output, shape: [input!.shape[0]!, ...padding.outputSpatial, filters] })];
    },
  };
}

const conv2dTranspose: LayerConverter = {
  unsupported: (config) => [
    ...convUnsupported(config),
    ...(config.output_padding != null ? [{ kind: 'attribute' as const, name: 'output_padding', detail: String(config.output_padding) }] : []),
    ...(configTuple(config, 'dilation_rate', 2, 1).some((rate) => rate !== 1) ? [{ kind: 'attribute' as const, name: 'dilation_rate', detail: 'dilated transposed convolution' }] : []),
  ],
  convert(layer, [input]) {
    const { config, emitter } = layer;
    // Keras stores the transposed kernel as [kh, kw, filters, in]; ONNX ConvTranspose wants [in, filters, kh, kw].
    const kernel = layer.weights.get('kernel');
    const kernelSize = kernel.shape.slice(0, 2);
    const [filters, inputChannels] = [kernel.shape[2]!, kernel.shape[3]!];
    const strides = configTuple(config, 'strides', 2, 1);
    const padding = transposedConvPadding(String(config.padding ?? 'valid'), input!.shape.slice(1, -1), kernelSize, strides);
    const weights = [layer.constant('kernel', [inputChannels, filters, ...kernelSize], () => permuteValues(kernel.values, kernel.shape, [3, 2, 0, 1]))];
    if (configBoolean(config, 'use_bias', true)) weights.push(layer.constant('bias', [filters], () => layer.weights.get('bias').values));
    const output = inChannelsFirst(emitter, input!, layer.name, (x) =>
      emitter.op('ConvTranspose', [x, ...weights], { kernel_shape: kernelSize, strides, ...padding.attributes }, layer.name),
    );
    return [withActivation(layer, { name: output, shape: [input!.shape[0]!, ...padding.outputSpatial, filters] })];
  },
};

/**
 * A depthwise kernel [kh, kw, in, multiplier] as a grouped ONNX Conv weight [in*multiplier, 1, kh, kw]:
 * TF numbers output channel c*multiplier + m, which is the order of ONNX's groups.
 */
function depthwiseWeight(layer: LayerEmitContext, weightName: string): { name: string; channels: number; kernelSize: number[] } {
  const kernel = layer.weights.get(weightName);
  const [kh, kw, channels, multiplier] = kernel.shape as [number, number, number, number];
  const name = layer.constant(weightName, [channels * multiplier, 1, kh, kw], () => permuteValues(kernel.values, kernel.shape, [2, 3, 0, 1]));
  return { name, channels, kernelSize: [kh, kw] };
}

const depthwiseConv2d: LayerConverter = {
  unsupported: convUnsupported,
  convert(layer, [input]) {
    const { config, emitter } = layer;
    const depthwise = depthwiseWeight(layer, 'depthwise_kernel');
    const outputChannels = layer.weights.get('depthwise_kernel').shape[2]! * layer.weights.get('depthwise_kernel').shape[3]!;
    const strides = configTuple(config, 'strides', 2, 1);
    const dilations = configTuple(config, 'dilation_rate', 2, 1);
    const padding = slidingWindowPadding(String(config.padding ?? 'valid'), input!.shape.slice(1, -1), depthwise.kernelSize, strides, dilations);
    const weights = [depthwise.name];
    if (configBoolean(config, 'use_bias', true)) weights.push(layer.constant('bias', [outputChannels], () => layer.weights.get('bias').values));
    const output = inChannelsFirst(emitter, input!, layer.name, (x) =>
      emitter.op('Conv', [x, ...weights], { kernel_shape: depthwise.kernelSize, strides, dilations, group: depthwise.channels, ...padding.attributes }, layer.name),
    );
    return [withActivation(layer, { name: output, shape: [input!.shape[0]!, ...padding.outputSpatial, outputChannels] })];
  },
};

const separableConv2d: LayerConverter = {
  unsupported: convUnsupported,
  convert(layer, [input]) {
    const { config, emitter } = layer;
    const depthwise = depthwiseWeight(layer, 'depthwise_kernel');
    const pointwise = layer.weights.get('pointwise_kernel');
    const [middle, filters] = [pointwise.shape[2]!, pointwise.shape[3]!];
    const strides = configTuple(config, 'strides', 2, 1);
    const dilations = configTuple(config, 'dilation_rate', 2, 1);
    const padding = slidingWindowPadding(String(config.padding ?? 'valid'), input!.shape.slice(1, -1), depthwise.kernelSize, strides, dilations);
    const pointwiseWeights = [layer.constant('pointwise_kernel', [filters, middle, 1, 1], () => permuteValues(pointwise.values, pointwise.shape, [3, 2, 0, 1]))];
    if (configBoolean(config, 'use_bias', true)) pointwiseWeights.push(layer.constant('bias', [filters], () => layer.weights.get('bias').values));
    const output = inChannelsFirst(emitter, input!, layer.name, (x) => {
      const spread = emitter.op('Conv', [x, depthwise.name], { kernel_shape: depthwise.kernelSize, strides, dilations, group: depthwise.channels, ...padding.attributes }, `${layer.name}_depthwise`);
      return emitter.op('Conv', [spread, ...pointwiseWeights], { kernel_shape: [1, 1] }, `${layer.name}_pointwise`);
    });
    return [withActivation(layer, { name: output, shape: [input!.shape[0]!, ...padding.outputSpatial, filters] })];
  },
};

export const DENSE_CONV_LAYERS: Record<string, LayerConverter> = {
  Dense: dense,
  Conv1D: convolution(1),
  Conv2D: convolution(2),
  Conv3D: convolution(3),
  Conv2DTranspose: conv2dTranspose,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
};
