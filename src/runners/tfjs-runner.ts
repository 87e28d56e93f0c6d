import type * as tfjs from '@tensorflow/tfjs';
import { ModelpressError } from '../errors.js';
import { convertHostArray, type HostArray } from './host-array.js';
import type { ModelRunner, RunnerOptions } from './model-runner.js';
import { openTfjsRunner, type TfjsArray } from './tfjs-model.js';

/**
 * TF.js LayersModels and GraphModels in @tensorflow/tfjs on the active tensor engine (tfjs-node-gpu,
 * tfjs-node, wasm or cpu, by --device). A run is the forward pass plus reading the outputs back: on an
 * asynchronous backend the work is done only once the data is downloaded.
 */

type Tensors = tfjs.NamedTensorMap;
type Outputs = Record<string, TfjsArray>;

export async function openTfjsModelRunner(modelJsonPath: string, options: RunnerOptions): Promise<ModelRunner<Tensors, Outputs>> {
  const engine = await options.engine();
  const model = await openTfjsRunner(modelJsonPath, engine.tf);
  return {
    modelPath: modelJsonPath,
    runtime: 'tfjs',
    format: model.kind === 'graph-model' ? 'tfjs-graph' : 'tfjs-layers',
    inputs: model.inputs.map((input) => ({ name: input.name, dtype: input.dtype, shape: input.shape })),
    outputs: model.outputNames.map((name) => ({ name })),
    settings: { engine: engine.name, backend: engine.backend, device: engine.device },
    async prepare(feeds) {
      const arrays: Record<string, TfjsArray> = {};
      for (const input of model.inputs) {
        const feed = feeds[input.name];
        if (!feed) throw new ModelpressError(`${modelJsonPath}: no value for input '${input.name}'`);
        // To the type the model declares: tfjs has no int64 or float16, which an ONNX model's inputs may be.
        const array = convertHostArray(feed, input.dtype, `${modelJsonPath}: input '${input.name}'`);
        arrays[input.name] = { dtype: array.dtype as tfjs.DataType, shape: array.shape, values: array.data as TfjsArray['values'] };
      }
      return model.tensorsFor(arrays);
    },
    run: (tensors) => model.forward(tensors),
    read(outputs) {
      const arrays: Record<string, HostArray> = {};
      for (const [name, output] of Object.entries(outputs)) {
        if (output.dtype === 'string' || output.dtype === 'complex64') throw new ModelpressError(`${modelJsonPath}: output '${name}' is ${output.dtype}, which cannot be compared`);
        arrays[name] = { dtype: output.dtype, shape: output.shape, data: output.values };
      }
      return arrays;
    },
    release: (tensors) => engine.tf.dispose(Object.values(tensors)),
    dispose: async () => model.dispose(),
  };
}
