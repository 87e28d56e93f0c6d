import { promises as fs } from 'node:fs';
import nodePath from 'node:path';
import { FormatError, ModelpressError, messageOf } from '../errors.js';
import { checkExternalData, externalDataReference, isExternal, resolveExternalDataPath } from './external-data.js';
import { allTensors } from './graph-walk.js';
import { decodeModelProto, ModelProto, TensorProto } from './onnx-proto.js';
import { decodeTensorAsFloat32, readTensorBytes, tensorByteLength } from './tensor-data.js';
import { modelWeights, WeightReference } from './weights.js';

/** Produces a tensor's new bytes when the model is saved, so rewrites stream one tensor at a time. */
export type TensorDataProducer = () => Promise<Uint8Array>;

/**
 * An ONNX model as loaded: the decoded protobuf plus where it came from. External data is never read at
 * load time; tensor bytes are read (or produced by a rewrite) one tensor at a time when asked for.
 */
export class OnnxModel {
  private readonly producers = new Map<TensorProto, TensorDataProducer>();
  /**
   * The files this model was read from (the .onnx and its external data), fixed at load time: a rewrite may
   * drop a tensor from the graph and still stream its bytes from there while saving, so a save must never
   * write over any of them.
   */
  readonly inputFiles: string[];
  /** Whether the model was read with external data: `auto` saves keep rewritten models that way too. */
  readonly hadExternalData: boolean;

  constructor(
    readonly proto: ModelProto,
    /** The .onnx path it was loaded from (external data locations are relative to its folder). */
    readonly path: string,
    /** False for a model built in memory: `path` then only anchors relative external data. */
    readonly fromFile = true,
  ) {
    const dataFiles = this.externalDataFiles();
    this.inputFiles = fromFile ? [nodePath.resolve(this.path), ...dataFiles] : [];
    this.hadExternalData = dataFiles.length > 0;
  }

  get directory(): string {
    return nodePath.dirname(nodePath.resolve(this.path));
  }

  weights(): WeightReference[] {
    return [...modelWeights(this.proto)];
  }

  /** The tensor's current bytes: a pending rewrite's output, inline data, or its external data range. */
  async tensorBytes(tensor: TensorProto): Promise<Uint8Array> {
    const producer = this.producers.get(tensor);
    return producer ? producer() : readTensorBytes(tensor, this.directory);
  }

  /** The tensor's values as float32 (float16, bfloat16, float64 and 8-bit integers are converted). */
  async tensorAsFloat32(tensor: TensorProto): Promise<Float32Array> {
    return decodeTensorAsFloat32(tensor, await this.tensorBytes(tensor));
  }

  /**
   * Give `tensor` new contents, computed when the model is saved. The caller sets data_type and dims on the
   * tensor itself; the producer must return bytes in raw_data layout for them.
   */
  setTensorData(tensor: TensorProto, producer: TensorDataProducer): void {
    this.producers.set(tensor, producer);
  }

  pendingProducer(tensor: TensorProto): TensorDataProducer | undefined {
    return this.producers.get(tensor);
  }

  /** External data files the model references, as absolute paths (each once). */
  externalDataFiles(): string[] {
    const files = new Set<string>();
    for (const tensor of allTensors(this.proto)) {
      if (!isExternal(tensor) || this.producers.has(tensor)) continue;
      files.add(resolveExternalDataPath(this.directory, externalDataReference(tensor).location, tensor.name ?? ''));
    }
    return [...files];
  }
}

/**
 * Load an .onnx file. Reads the protobuf only; external data files are checked (present, inside the model's
 * folder, long enough) but not read.
 */
export async function loadOnnxModel(modelPath: string): Promise<OnnxModel> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(modelPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelpressError(`${modelPath}: no such file`);
    if (code === 'EISDIR') throw new ModelpressError(`${modelPath}: is a folder, expected an .onnx file`);
    throw new ModelpressError(`${modelPath}: cannot read (${messageOf(error)})`);
  }
  if (bytes.length === 0) throw new FormatError(`${modelPath}: empty file (0 bytes), not an ONNX model`);
  let proto: ModelProto;
  try {
    proto = decodeModelProto(bytes);
  } catch (error) {
    throw new FormatError(`${modelPath}: not a valid ONNX model, the file is truncated or not ONNX protobuf (${messageOf(error)})`);
  }
  // Arbitrary bytes can happen to parse as protobuf; a model always has an IR version and a graph.
  if (!proto.graph || proto.ir_version === undefined || !proto.opset_import?.length) {
    throw new FormatError(`${modelPath}: not an ONNX model (no ${!proto.graph ? 'graph' : proto.ir_version === undefined ? 'IR version' : 'opset import'})`);
  }
  const model = new OnnxModel(proto, modelPath);
  await checkExternalData(model.directory, allTensors(proto), tensorByteLength);
  return model;
}
