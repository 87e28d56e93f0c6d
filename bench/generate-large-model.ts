import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../src/onnx/builders.js';
import { ONNX_TYPE, onnxDataTypeName } from '../src/onnx/data-types.js';
import { externalDataEntries, externalDataReference, isExternal } from '../src/onnx/external-data.js';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { DATA_LOCATION_EXTERNAL, encodeModelProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/onnx/onnx-proto.js';
import { tensorByteLength, tensorDims } from '../src/onnx/tensor-data.js';

/**
 * A large ONNX model for the save benchmark: a chain of float32 MatMul layers whose weights all live in one
 * external data file. The data file is written one chunk at a time from a seeded generator, so producing a
 * gigabyte never holds more than one chunk in memory, and the same options always give the same bytes.
 */

export interface LargeModelOptions {
  /** Number of MatMul layers, each with one [width, width] float32 weight. */
  layers: number;
  width: number;
  seed: number;
}

/** 64 layers of float32 [2048, 2048] weights: 16 MiB each, 1 GiB in all. */
export const DEFAULT_LARGE_MODEL: LargeModelOptions = { layers: 64, width: 2048, seed: 20240601 };

/** Where one weight's bytes sit in the data file. */
export interface TensorPlacement {
  name: string;
  offset: number;
  length: number;
}

export interface GeneratedTensor extends TensorPlacement {
  /** SHA-256 of the tensor's bytes as generated (hex), to check a saved copy against. */
  sha256: string;
}

export interface GeneratedModel {
  modelPath: string;
  dataPath: string;
  modelBytes: number;
  dataBytes: number;
  tensors: GeneratedTensor[];
}

const DATA_FILE_SUFFIX = '.data';
/** Weights start at 64 KiB boundaries, as saveOnnxModel lays them out, so runtimes can memory-map them. */
const TENSOR_ALIGNMENT = 64 * 1024;
/** Bytes generated and written per step: small enough to keep memory flat, large enough to amortise a write. */
const GENERATE_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * xorshift32 filling float32 values uniform in [-scale, scale). Chosen over the fixtures' mulberry32/normal
 * generator because it must produce a quarter of a billion values in about a second; the distribution does
 * not matter to a copy benchmark, only that the bytes are varied (not compressible or sparse) and repeatable.
 */
class WeightStream {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1; // xorshift's state must never be zero
  }

  fill(values: Float32Array, scale: number): void {
    let state = this.state;
    const step = (2 * scale) / 4294967296;
    for (let index = 0; index < values.length; index++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      values[index] = (state >>> 0) * step - scale;
    }
    this.state = state;
  }
}

function weightName(layer: number): string {
  return `layer${layer}.weight`;
}

function activationName(layer: number, layers: number): string {
  return layer === layers - 1 ? 'output' : `layer${layer}.out`;
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** The model's protobuf: every weight external, referencing `dataFileName` at aligned offsets. */
function buildModelProto(options: LargeModelOptions, dataFileName: string): { proto: ModelProto; layout: TensorPlacement[] } {
  const { layers, width } = options;
  const length = width * width * Float32Array.BYTES_PER_ELEMENT;
  const layout: TensorPlacement[] = [];
  const initializers: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  let offset = 0;
  for (let layer = 0; layer < layers; layer++) {
    offset = alignUp(offset, TENSOR_ALIGNMENT);
    const name = weightName(layer);
    layout.push({ name, offset, length });
    initializers.push({
      name,
      dims: [width, width],
      data_type: ONNX_TYPE.FLOAT32!,
      data_location: DATA_LOCATION_EXTERNAL,
      external_data: externalDataEntries({ location: dataFileName, offset, length }),
    });
    const input = layer === 0 ? 'input' : activationName(layer - 1, layers);
    nodes.push(makeNode('MatMul', [input, name], [activationName(layer, layers)], {}, { name: `layer${layer}.matmul` }));
    offset += length;
  }
  const graph = makeGraph({
    name: 'large_matmul_chain',
    inputs: [makeValueInfo('input', 'float32', ['batch', width])],
    outputs: [makeValueInfo('output', 'float32', ['batch', width])],
    initializers,
    nodes,
  });
  return { proto: makeModel(graph), layout };
}

/** Write one tensor's bytes at `offset`, chunk by chunk, hashing them as they go. */
async function writeWeight(output: fs.FileHandle, offset: number, length: number, random: WeightStream, scale: number, chunk: Float32Array): Promise<string> {
  const hash = createHash('sha256');
  const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  for (let done = 0; done < length; ) {
    const size = Math.min(bytes.length, length - done);
    const values = chunk.subarray(0, size / 4);
    random.fill(values, scale);
    const part = bytes.subarray(0, size);
    hash.update(part);
    let written = 0;
    while (written < size) {
      const result = await output.write(part, written, size - written, offset + done + written);
      written += result.bytesWritten;
    }
    done += size;
  }
  return hash.digest('hex');
}

/**
 * Check what the benchmark relies on, through the library's own loader: every weight is external, float32
 * [width, width], with a byte length matching its shape, and the MatMul chain's shapes agree from the graph
 * input [batch, width] to its output.
 */
export async function checkLargeModel(modelPath: string, options: LargeModelOptions): Promise<void> {
  const model = await loadOnnxModel(modelPath); // also checks each external range lies inside the data file
  const graph = model.proto.graph!;
  const weights = new Map((graph.initializer ?? []).map((tensor) => [tensor.name ?? '', tensor]));
  const problem = (what: string) => new Error(`generated model ${modelPath}: ${what}`);
  if (weights.size !== options.layers) throw problem(`expected ${options.layers} initializers, found ${weights.size}`);
  for (const [name, tensor] of weights) {
    const dims = tensorDims(tensor);
    if (tensor.data_type !== ONNX_TYPE.FLOAT32) throw problem(`tensor '${name}' is ${onnxDataTypeName(tensor.data_type)}, expected float32`);
    if (dims.length !== 2 || dims[0] !== options.width || dims[1] !== options.width) {
      throw problem(`tensor '${name}' has dims [${dims}], expected [${options.width},${options.width}]`);
    }
    if (!isExternal(tensor) || tensor.raw_data) throw problem(`tensor '${name}' is not stored as external data only`);
    const reference = externalDataReference(tensor);
    if (reference.length !== tensorByteLength(tensor)) {
      throw problem(`tensor '${name}' external length ${reference.length} differs from its shape's ${tensorByteLength(tensor)} bytes`);
    }
  }
  const shapeOf = (values: ValueInfoProto[] | undefined): Array<number | string> =>
    (values?.[0]?.type?.tensor_type?.shape?.dim ?? []).map((dim) => dim.dim_param ?? Number(dim.dim_value));
  let shape = shapeOf(graph.input);
  for (const node of graph.node ?? []) {
    const weight = weights.get(node.input?.[1] ?? '');
    if (node.op_type !== 'MatMul' || !weight) throw problem(`node '${node.name}' is not a MatMul with a weight initializer`);
    const [rows, columns] = tensorDims(weight);
    if (shape[shape.length - 1] !== rows) throw problem(`node '${node.name}': input's last dim ${shape[shape.length - 1]} does not match weight rows ${rows}`);
    shape = [...shape.slice(0, -1), columns!];
  }
  const declared = shapeOf(graph.output);
  if (declared.join(',') !== shape.join(',')) throw problem(`graph output is declared [${declared}], the MatMul chain gives [${shape}]`);
}

/** Generate the model into `directory` (created if missing) as `large-model.onnx` plus its data file. */
export async function generateLargeModel(directory: string, options: LargeModelOptions = DEFAULT_LARGE_MODEL): Promise<GeneratedModel> {
  await fs.mkdir(directory, { recursive: true });
  const modelPath = path.join(directory, 'large-model.onnx');
  const dataFileName = `${path.basename(modelPath)}${DATA_FILE_SUFFIX}`;
  const dataPath = path.join(directory, dataFileName);
  const { proto, layout } = buildModelProto(options, dataFileName);

  const output = await fs.open(dataPath, 'wx');
  const tensors: GeneratedTensor[] = [];
  try {
    const chunk = new Float32Array(GENERATE_CHUNK_BYTES / 4);
    const scale = 1 / Math.sqrt(options.width);
    for (const [layer, { name, offset, length }] of layout.entries()) {
      // One generator per tensor, seeded by its index: any tensor can be regenerated on its own.
      const random = new WeightStream(options.seed + layer * 0x9e3779b9);
      tensors.push({ name, offset, length, sha256: await writeWeight(output, offset, length, random, scale, chunk) });
    }
    // Flush now: otherwise the kernel writes this gigabyte back while the first measurements run, and slows them.
    await output.sync();
  } finally {
    await output.close();
  }
  const encoded = encodeModelProto(proto);
  await fs.writeFile(modelPath, encoded, { flag: 'wx' });
  await checkLargeModel(modelPath, options);
  const last = layout[layout.length - 1]!;
  return { modelPath, dataPath, modelBytes: encoded.length, dataBytes: last.offset + last.length, tensors };
}

// `node dist/bench/generate-large-model.js <folder>`: generate the model alone, e.g. to try the CLI on it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const directory = process.argv[2];
  if (!directory) {
    console.error('usage: node dist/bench/generate-large-model.js <output folder>');
    process.exit(2);
  }
  const generated = await generateLargeModel(directory);
  console.log(`${generated.modelPath} (${generated.modelBytes} bytes) + ${generated.dataPath} (${generated.dataBytes} bytes)`);
}
