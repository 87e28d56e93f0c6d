import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { ModelpressError, messageOf } from '../errors.js';
import { ONNX_TYPE } from '../onnx/data-types.js';
import { OnnxModel } from '../onnx/onnx-model.js';
import type { ModelProto, ValueInfoProto } from '../onnx/onnx-proto.js';
import { saveOnnxModel } from '../onnx/save-onnx.js';
import type { CalibrationSet } from './calibration-set.js';

/**
 * Watching intermediate tensors while the float model runs: a copy of the model with those tensors added
 * as graph outputs is saved to a temporary folder and run in onnxruntime-node, one calibration sample at a
 * time. Only one sample's tensors are alive at once; callers fold them into running statistics.
 */

/** Values a probe can watch: the main graph's inputs and its nodes' outputs (subgraph values cannot be graph outputs). */
export function probeableValues(model: ModelProto): Set<string> {
  const graph = model.graph!;
  return new Set([...(graph.input ?? []).map((input) => input.name ?? ''), ...(graph.node ?? []).flatMap((node) => node.output ?? [])]);
}

export type TensorVisitor = (tensor: string, values: Float32Array, dims: readonly number[]) => void;

export class ActivationProbe {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly directory: string,
    /** Tensors read from the session's outputs (the rest are model inputs, read from the feeds). */
    private readonly fetched: string[],
    private readonly fromFeeds: string[],
  ) {}

  /**
   * `tensors` must be values of the main graph (inputs or outputs of its nodes): subgraph values cannot
   * be graph outputs. They must be float32.
   */
  static async open(model: OnnxModel, tensors: string[]): Promise<ActivationProbe> {
    const graph = model.proto.graph!;
    const inputs = new Set((graph.input ?? []).map((input) => input.name));
    const outputs = new Set((graph.output ?? []).map((output) => output.name));
    const probeable = probeableValues(model.proto);
    const unique = [...new Set(tensors)];
    const unseen = unique.find((name) => !probeable.has(name));
    if (unseen) throw new ModelpressError(`cannot calibrate '${unseen}': it is not a value of the main graph`);
    const fetched = unique.filter((name) => !inputs.has(name));
    const extraOutputs: ValueInfoProto[] = fetched
      .filter((name) => !outputs.has(name))
      .map((name) => ({ name, type: { tensor_type: { elem_type: ONNX_TYPE.FLOAT32 } } }));
    // A shallow copy sharing the tensors: the caller's model is left as it was.
    const augmented = new OnnxModel({ ...model.proto, graph: { ...graph, output: [...(graph.output ?? []), ...extraOutputs] } }, model.path, model.fromFile);
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-calibration-'));
    try {
      const file = path.join(directory, 'augmented.onnx');
      await saveOnnxModel(augmented, file, { externalData: 'auto' });
      const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
      return new ActivationProbe(session, directory, fetched, unique.filter((name) => inputs.has(name)));
    } catch (error) {
      await fs.rm(directory, { recursive: true, force: true });
      throw new ModelpressError(`cannot run the model to calibrate it: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Run every sample, showing `visit` each watched tensor of that sample. */
  async forEachSample(calibration: CalibrationSet, visit: TensorVisitor): Promise<void> {
    for (const [index, feeds] of calibration.samples.entries()) {
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = this.fetched.length ? await this.session.run(feeds, this.fetched) : {};
      } catch (error) {
        throw new ModelpressError(`${calibration.source}: sample ${index} does not run through the model: ${messageOf(error)}`, { cause: error });
      }
      const views: Array<[string, ort.Tensor]> = [
        ...this.fromFeeds.map((name) => [name, feeds[name]!] as [string, ort.Tensor]),
        ...this.fetched.map((name) => [name, results[name] as ort.Tensor] as [string, ort.Tensor]),
      ];
      for (const [name, tensor] of views) {
        if (tensor.type !== 'float32') throw new ModelpressError(`cannot calibrate '${name}': it is ${tensor.type}, not float32`);
        visit(name, tensor.data as Float32Array, tensor.dims);
      }
    }
  }

  async close(): Promise<void> {
    try {
      await this.session.release();
    } finally {
      await fs.rm(this.directory, { recursive: true, force: true });
    }
  }
}

/** Open a probe, use it, and always clean up its temporary model. */
export async function withActivationProbe<T>(model: OnnxModel, tensors: string[], use: (probe: ActivationProbe) => Promise<T>): Promise<T> {
  const probe = await ActivationProbe.open(model, tensors);
  try {
    return await use(probe);
  } finally {
    await probe.close();
  }
}
