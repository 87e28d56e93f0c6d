import { reduce, scalar } from './common-ops.js';
import { configBoolean, normalizeAxis, type Dim, type KerasValue, type LayerConverter, type LayerEmitContext } from './layer-converter.js';

/** Layers that combine several tensors: elementwise merges, Concatenate and Dot. */

/** The merged shape: each dimension as the inputs fix it (Keras merges broadcast over the batch). */
function mergedShape(inputs: KerasValue[]): Dim[] {
  const rank = Math.max(...inputs.map((input) => input.shape.length));
  return Array.from({ length: rank }, (_, axis) => {
    const sizes = inputs.map((input) => input.shape[axis - rank + input.shape.length]).filter((size): size is number => typeof size === 'number');
    return sizes.length ? Math.max(...sizes) : null;
  });
}

/** Pairwise chain for binary ops; ONNX's variadic ops (Sum, Mean, Max, Min) take all inputs at once. */
function elementwise(op: string, variadic: boolean): LayerConverter {
  return {
    convert(layer, inputs) {
      const names = inputs.map((input) => input.name);
      const output = variadic
        ? layer.emitter.op(op, names, {}, layer.name)
        : names.slice(1).reduce((left, right, index) => layer.emitter.op(op, [left, right], {}, index === names.length - 2 ? layer.name : `${layer.name}_${index}`), names[0]!);
      return [{ name: output, shape: mergedShape(inputs) }];
    },
  };
}

const concatenate: LayerConverter = {
  convert(layer, inputs) {
    const rank = inputs[0]!.shape.length;
    const axis = normalizeAxis(Number(layer.config.axis ?? -1), rank);
    const shape = mergedShape(inputs);
    const sizes = inputs.map((input) => input.shape[axis]);
    shape[axis] = sizes.every((size) => typeof size === 'number') ? (sizes as number[]).reduce((total, size) => total + size, 0) : null;
    return [{ name: layer.emitter.op('Concat', inputs.map((input) => input.name), { axis }, layer.name), shape }];
  },
};

/** x / sqrt(max(sum(x^2), 1e-12)) along `axis`: tfjs's l2Normalize. */
function l2Normalize(layer: LayerEmitContext, value: string, axis: number, hint: string): string {
  const { emitter, opset } = layer;
  const squares = reduce(emitter, opset, 'ReduceSum', emitter.op('Mul', [value, value], {}, `${hint}_square`), [axis], true, `${hint}_sum_squares`);
  const floor = emitter.op('Max', [squares, scalar(emitter, `${hint}_epsilon`, 1e-12)], {}, `${hint}_floor`);
  return emitter.op('Div', [value, emitter.op('Sqrt', [floor], {}, `${hint}_norm`)], {}, hint);
}

/**
 * Keras batch_dot of two rank-2 or rank-3 tensors along `axes`, as one MatMul: x's contracted axis moved
 * last, y's moved next to the batch, rank-2 operands given a unit axis that is squeezed away afterwards.
 */
const dot: LayerConverter = {
  unsupported: (config) => {
    const axes = Array.isArray(config.axes) ? config.axes : [config.axes, config.axes];
    return axes.every((axis) => typeof axis === 'number') ? [] : [{ kind: 'attribute', name: 'axes', detail: JSON.stringify(config.axes) }];
  },
  convert(layer, [x, y]) {
    const { emitter } = layer;
    const axesConfig = layer.config.axes;
    const [axisX, axisY] = (Array.isArray(axesConfig) ? axesConfig : [axesConfig, axesConfig]).map(Number) as [number, number];
    const ax = normalizeAxis(axisX, x!.shape.length);
    const ay = normalizeAxis(axisY, y!.shape.length);
    if (x!.shape.length > 3 || y!.shape.length > 3) throw new Error(`${layer.name}: Dot of rank ${x!.shape.length} and ${y!.shape.length} (rank 2 or 3 only)`);
    let left = configBoolean(layer.config, 'normalize', false) ? l2Normalize(layer, x!.name, ax, `${layer.name}_normalize_x`) : x!.name;
    let right = configBoolean(layer.config, 'normalize', false) ? l2Normalize(layer, y!.name, ay, `${layer.name}_normalize_y`) : y!.name;
    if (x!.shape.length === 2) left = emitter.op('Unsqueeze', [left, emitter.int64Constant([1])], {}, `${layer.name}_x_row`);
    else if (ax === 1) left = emitter.op('Transpose', [left], { perm: [0, 2, 1] }, `${layer.name}_x_t`);
    if (y!.shape.length === 2) right = emitter.op('Unsqueeze', [right, emitter.int64Constant([2])], {}, `${layer.name}_y_column`);
    else if (ay === 2) right = emitter.op('Transpose', [right], { perm: [0, 2, 1] }, `${layer.name}_y_t`);
    const product = emitter.op('MatMul', [left, right], {}, `${layer.name}_matmul`);
    const keptX = x!.shape.filter((_, axis) => axis !== 0 && axis !== ax);
    const keptY = y!.shape.filter((_, axis) => axis !== 0 && axis !== ay);
    const squeezeAxes = x!.shape.length === 2 && y!.shape.length === 2 ? [2] : x!.shape.length === 2 ? [1] : y!.shape.length === 2 ? [2] : [];
    const output = squeezeAxes.length ? emitter.op('Squeeze', [product, emitter.int64Constant(squeezeAxes)], {}, layer.name) : product;
    const shape = [x!.shape[0]!, ...keptX, ...keptY];
    return [{ name: output, shape: shape.length === 1 ? [x!.shape[0]!, 1] : shape }];
  },
};

export const MERGE_LAYERS: Record<string, LayerConverter> = {
  Add: elementwise('Add', false),
  Subtract: elementwise('Sub', false),
  Multiply: elementwise('Mul', false),
  Average: elementwise('Mean', true),
  Maximum: elementwise('Max', true),
  Minimum: elementwise('Min', true),
  Concatenate: concatenate,
  Dot: dot,
};
