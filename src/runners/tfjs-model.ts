import type * as tfjs from '@tensorflow/tfjs';
import { ModelpressError, messageOf } from '../errors.js';
import type { Tfjs } from '../engine/tensor-engine.js';
import { loadTfjsModel } from '../tfjs/load-tfjs-model.js';
import type { TfjsModelKind } from '../tfjs/model-json.js';
import { tfjsModelIOHandler } from '../tfjs/tfjs-io-handler.js';

/**
 * A TF.js model.json loaded into tfjs (LayersModel or GraphModel by its format) and run on plain arrays.
 * Files are read through modelpress's own loader, so this needs neither tfjs-node nor its file:// handler,
 * and it runs on whatever tfjs namespace and backend it is given.
 */
export interface TfjsModelRunner {
  modelJsonPath: string;
  kind: TfjsModelKind;
  inputs: TfjsRunnerInput[];
  outputNames: string[];
  /** One forward pass; `feeds` by input name. Every tensor made here is disposed before it returns. */
  run(feeds: Record<string, TfjsArray>): Promise<Record<string, TfjsArray>>;
  /** The feeds as tfjs tensors, for callers that run the same inputs many times (the caller disposes them). */
  tensorsFor(feeds: Record<string, TfjsArray>): tfjs.NamedTensorMap;
  /**
   * One forward pass on tensors made by tensorsFor, outputs read back to plain arrays: the whole inference
   * as an application sees it (a GPU backend has finished only once the outputs are downloaded).
   */
  forward(tensors: tfjs.NamedTensorMap): Promise<Record<string, TfjsArray>>;
  dispose(): void;
}

export interface TfjsRunnerInput {
  name: string;
  /** null for a dimension the model leaves open (batch, image size); undefined when even the rank is unknown. */
  shape: Array<number | null> | undefined;
  dtype: tfjs.DataType;
}

export interface TfjsArray {
  dtype: tfjs.DataType;
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/**
 * The tfjs that verification runs on when the caller gives none: the pure-JS package, on the backend the
 * process already selected (the engine picks wasm or cpu), else cpu; tfjs's own default would first try
 * webgl, which cannot start in Node.
 */
export async function defaultTfjs(): Promise<Tfjs> {
  const tf: Tfjs = await import('@tensorflow/tfjs');
  if (!tf.engine().backendName) await tf.setBackend('cpu');
  return tf;
}

/** Open a runner, use it, and always dispose of it (its model's tensors). */
export async function withTfjsRunner<T>(modelJsonPath: string, tf: Tfjs, use: (runner: TfjsModelRunner) => Promise<T>): Promise<T> {
  const runner = await openTfjsRunner(modelJsonPath, tf);
  try {
    return await use(runner);
  } finally {
    runner.dispose();
  }
}

export async function openTfjsRunner(modelJsonPath: string, tf: Tfjs): Promise<TfjsModelRunner> {
  const model = await loadTfjsModel(modelJsonPath);
  const handler = tfjsModelIOHandler(model);
  try {
    return model.kind === 'graph-model'
      ? graphModelRunner(modelJsonPath, await tf.loadGraphModel(handler), tf)
      : layersModelRunner(modelJsonPath, await tf.loadLayersModel(handler), tf);
  } catch (error) {
    if (error instanceof ModelpressError) throw error;
    throw new ModelpressError(`${modelJsonPath}: tfjs cannot load the model: ${messageOf(error)}`, { cause: error });
  }
}

function layersModelRunner(modelJsonPath: string, model: tfjs.LayersModel, tf: Tfjs): TfjsModelRunner {
  // A Sequential model loaded from JSON names its outputs only once built, which predict() would do later.
  if (model instanceof tf.Sequential && model.outputNames.length === 0) model.build();
  const inputs = model.inputs.map((input, index) => ({ name: model.inputNames[index]!, shape: input.shape.slice(), dtype: input.dtype }));
  const outputNames = model.outputNames.slice();
  return runnerOver(tf, modelJsonPath, 'layers-model', inputs, outputNames, model, (tensors) =>
    model.predict(inputs.map((input) => tensors[input.name]!)),
  );
}

function graphModelRunner(modelJsonPath: string, model: tfjs.GraphModel, tf: Tfjs): TfjsModelRunner {
  // GraphDef writes an unknown dimension as -1; a Placeholder without a shape attribute has unknown rank.
  const inputs = model.inputs.map((input) => ({
    name: input.name,
    shape: input.shape?.map((size) => (size < 0 ? null : size)),
    dtype: input.dtype,
  }));
  // outputNodes are the signature's output keys when the model has one, else the graph's output node names.
  const outputNames = model.outputNodes.slice();
  return runnerOver(tf, modelJsonPath, 'graph-model', inputs, outputNames, model, (tensors) => executeGraph(model, tensors));
}

/**
 * execute() refuses graphs with control flow (While, If) or dynamic-shape ops and names executeAsync in its
 * error; executeAsync runs every graph but warns on the console for the others, so try execute first.
 */
async function executeGraph(model: tfjs.GraphModel, tensors: tfjs.NamedTensorMap): Promise<tfjs.Tensor | tfjs.Tensor[]> {
  try {
    return model.execute(tensors);
  } catch (error) {
    if (!messageOf(error).includes('executeAsync')) throw error;
    return model.executeAsync(tensors);
  }
}

type Forward = (tensors: tfjs.NamedTensorMap) => tfjs.Tensor | tfjs.Tensor[] | Promise<tfjs.Tensor | tfjs.Tensor[]>;

function runnerOver(
  tf: Tfjs,
  modelJsonPath: string,
  kind: TfjsModelKind,
  inputs: TfjsRunnerInput[],
  outputNames: string[],
  model: { dispose(): void },
  predict: Forward,
): TfjsModelRunner {
  const tensorsFor = (feeds: Record<string, TfjsArray>) => {
    const tensors: tfjs.NamedTensorMap = {};
    for (const [name, feed] of Object.entries(feeds)) tensors[name] = tf.tensor(feed.values, feed.shape, feed.dtype);
    return tensors;
  };
  const forward = (tensors: tfjs.NamedTensorMap) => forwardAndRead(tf, modelJsonPath, tensors, outputNames, predict);
  return {
    modelJsonPath,
    kind,
    inputs,
    outputNames,
    tensorsFor,
    forward,
    run: async (feeds) => {
      const tensors = tensorsFor(feeds);
      try {
        return await forward(tensors);
      } finally {
        tf.dispose(Object.values(tensors));
      }
    },
    dispose: () => model.dispose(),
  };
}

async function forwardAndRead(
  tf: Tfjs,
  modelJsonPath: string,
  tensors: tfjs.NamedTensorMap,
  outputNames: string[],
  predict: Forward,
): Promise<Record<string, TfjsArray>> {
  let outputs: tfjs.Tensor[] = [];
  try {
    const result = await predict(tensors);
    outputs = Array.isArray(result) ? result : [result];
    if (outputs.length !== outputNames.length) {
      throw new ModelpressError(`${modelJsonPath}: the model returned ${outputs.length} outputs, its topology names ${outputNames.length}`);
    }
    const values: Record<string, TfjsArray> = {};
    for (const [index, output] of outputs.entries()) {
      values[outputNames[index]!] = { dtype: output.dtype, shape: output.shape.slice(), values: (await output.data()) as TfjsArray['values'] };
    }
    return values;
  } catch (error) {
    if (error instanceof ModelpressError) throw error;
    throw new ModelpressError(`${modelJsonPath}: tfjs failed to run the model: ${messageOf(error)}`, { cause: error });
  } finally {
    tf.dispose(outputs);
  }
}
