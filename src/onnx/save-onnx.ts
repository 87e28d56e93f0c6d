import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ModelpressError, UsageError } from '../errors.js';
import { checkOutputFolders, checkOutputPaths, writeAtomically } from '../io/atomic-write.js';
import { externalDataEntries, externalDataReference, isExternal, resolveExternalDataPath } from './external-data.js';
import { allGraphs, allTensors } from './graph-walk.js';
import { DATA_LOCATION_EXTERNAL, encodeModelProto, encodedModelSize, TensorProto } from './onnx-proto.js';
import type { OnnxModel } from './onnx-model.js';
import { tensorByteLength, typedFieldBytes } from './tensor-data.js';

/** Protobuf messages cannot exceed 2 GiB. */
export const PROTOBUF_SIZE_LIMIT = 2 ** 31 - 1;

export type ExternalDataMode = 'auto' | 'always' | 'never';

export interface SaveOnnxOptions {
  /** auto: external when the model was loaded with external data or would pass the 2 GiB limit. */
  externalData?: ExternalDataMode;
  /** File name of the data file, in the output's folder. Default `<output file name>.data`. */
  dataFileName?: string;
  /** Initializers smaller than this stay inline when saving externally (onnx's default is 1024). */
  sizeThreshold?: number;
  force?: boolean;
  /** Further paths that must not be overwritten. */
  protectedPaths?: string[];
  /** Inline size past which `auto` switches to external data (protobuf's limit less a margin; tests lower it). */
  inlineLimitBytes?: number;
  /** Called as tensors are written or produced: (done, total), for a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

export interface SaveOnnxResult {
  modelPath: string;
  modelBytes: number;
  dataPath?: string;
  dataBytes: number;
  externalTensors: number;
}

/** Large tensors start at 64 KiB boundaries so runtimes can memory-map them (Windows' mmap granularity). */
const ALIGNMENT_RULES = [
  { minBytes: 64 * 1024, alignment: 64 * 1024 },
  { minBytes: 0, alignment: 16 },
];
const COPY_CHUNK_BYTES = 16 * 1024 * 1024;

function alignmentFor(byteLength: number): number {
  return ALIGNMENT_RULES.find((rule) => byteLength >= rule.minBytes)!.alignment;
}

const TYPED_FIELDS = ['float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data'] as const;
const REWRITTEN_FIELDS = ['raw_data', 'data_location', 'external_data', ...TYPED_FIELDS] as const;

type SavedFields = Partial<Pick<TensorProto, (typeof REWRITTEN_FIELDS)[number]>>;

function initializerSet(model: OnnxModel): Set<TensorProto> {
  const set = new Set<TensorProto>();
  for (const { graph } of allGraphs(model.proto)) for (const tensor of graph.initializer ?? []) set.add(tensor);
  return set;
}

/** Copy `length` bytes from `file` at `offset` into `output` at `outputOffset`, in fixed-size chunks. */
async function copyRange(file: string, offset: number, length: number, output: fs.FileHandle, outputOffset: number, chunk: Buffer) {
  const input = await fs.open(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await input.read(chunk, 0, Math.min(chunk.length, length - done), offset + done);
      if (bytesRead === 0) throw new ModelpressError(`external data file ${file} ended early`);
      await output.write(chunk, 0, bytesRead, outputOffset + done);
      done += bytesRead;
    }
  } finally {
    await input.close();
  }
}

/**
 * Save the model to `outputPath`, streaming tensor data: external tensors are copied range by range from
 * their source files and rewritten tensors are produced one at a time, so memory stays flat whatever the
 * model's size. The model file and its data file are written to temporaries and renamed together.
 */
export async function saveOnnxModel(model: OnnxModel, outputPath: string, options: SaveOnnxOptions = {}): Promise<SaveOnnxResult> {
  const mode = options.externalData ?? 'auto';
  const threshold = options.sizeThreshold ?? 1024;
  const dataFileName = options.dataFileName ?? `${path.basename(outputPath)}.data`;
  if (path.basename(dataFileName) !== dataFileName || dataFileName === '..' || dataFileName === '.') {
    throw new UsageError(`external data file name '${dataFileName}' must be a plain file name (it is written beside the model)`);
  }
  const dataPath = path.join(path.dirname(outputPath), dataFileName);

  const tensors = [...new Set(allTensors(model.proto))];
  const initializers = initializerSet(model);
  const inlineBytes = tensors.reduce((sum, tensor) => sum + (tensorByteLength(tensor) ?? 0), 0);
  // A rewrite may have replaced every external tensor with new ones; the model still came with external data.
  const inputHasExternal = model.hadExternalData || tensors.some((tensor) => isExternal(tensor) && !model.pendingProducer(tensor));
  const inlineLimit = options.inlineLimitBytes ?? PROTOBUF_SIZE_LIMIT - 64 * 1024 * 1024;
  const externalize = mode === 'always' || (mode === 'auto' && (inputHasExternal || inlineBytes > inlineLimit));

  const goesExternal = (tensor: TensorProto): boolean => {
    const length = tensorByteLength(tensor);
    if (length === undefined || !externalize) return false;
    if (isExternal(tensor) && !model.pendingProducer(tensor)) return true; // already external stays external
    return initializers.has(tensor) && length >= threshold;
  };
  const external = tensors.filter(goesExternal);
  if (!externalize && inlineBytes > PROTOBUF_SIZE_LIMIT) {
    throw new ModelpressError(`model ${outputPath} would be ${inlineBytes} bytes inline, over protobuf's 2 GiB limit: save with external data`);
  }

  const outputs = external.length ? [outputPath, dataPath] : [outputPath];
  checkOutputFolders(outputs);
  checkOutputPaths(outputs, [...model.inputFiles, ...model.externalDataFiles(), ...(options.protectedPaths ?? [])], options.force ?? false);

  const saved = new Map<TensorProto, SavedFields>();
  const remember = (tensor: TensorProto) => {
    if (saved.has(tensor)) return;
    const fields: SavedFields = {};
    for (const field of REWRITTEN_FIELDS) (fields as Record<string, unknown>)[field] = tensor[field];
    saved.set(tensor, fields);
  };
  const clearData = (tensor: TensorProto) => {
    for (const field of REWRITTEN_FIELDS) delete tensor[field];
  };

  try {
    return await writeAtomically(async (transaction) => {
      const modelTemporary = transaction.stage(outputPath);
      let dataBytes = 0;
      // Work counted: every tensor whose bytes are copied into the data file or produced by a rewrite.
      const inlineWork = tensors.filter((tensor) => !external.includes(tensor) && (model.pendingProducer(tensor) || isExternal(tensor)));
      const totalWork = external.length + inlineWork.length;
      let doneWork = 0;
      const progressed = () => options.onProgress?.(++doneWork, totalWork);
      if (external.length) {
        const dataTemporary = transaction.stage(dataPath);
        const output = await fs.open(dataTemporary, 'wx');
        const chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
        try {
          for (const tensor of external) {
            const length = tensorByteLength(tensor)!;
            const offset = Math.ceil(dataBytes / alignmentFor(length)) * alignmentFor(length);
            const producer = model.pendingProducer(tensor);
            if (producer) {
              const bytes = await producer();
              if (bytes.length !== length) {
                throw new ModelpressError(`tensor '${tensor.name ?? ''}': rewrite produced ${bytes.length} bytes, its shape and type need ${length}`);
              }
              await output.write(bytes, 0, bytes.length, offset);
            } else if (isExternal(tensor)) {
              const reference = externalDataReference(tensor);
              const source = resolveExternalDataPath(model.directory, reference.location, tensor.name ?? '');
              await copyRange(source, reference.offset, length, output, offset, chunk);
            } else {
              const bytes = tensor.raw_data ?? typedFieldBytes(tensor);
              await output.write(bytes, 0, bytes.length, offset);
            }
            remember(tensor);
            clearData(tensor);
            tensor.data_location = DATA_LOCATION_EXTERNAL;
            tensor.external_data = externalDataEntries({ location: dataFileName, offset, length });
            dataBytes = offset + length;
            progressed();
          }
        } finally {
          await output.close();
        }
      }
      // Everything not external is written inline as raw_data (rewritten, or brought in from a data file).
      for (const tensor of tensors) {
        if (saved.has(tensor)) continue;
        const producer = model.pendingProducer(tensor);
        if (!producer && !isExternal(tensor)) continue; // untouched inline tensors are written as they were
        const bytes = await model.tensorBytes(tensor);
        remember(tensor);
        clearData(tensor);
        tensor.raw_data = bytes;
        progressed();
      }
      const size = encodedModelSize(model.proto);
      if (size > PROTOBUF_SIZE_LIMIT) {
        throw new ModelpressError(`model ${outputPath} would be ${size} bytes, over protobuf's 2 GiB limit: save with external data`);
      }
      const encoded = encodeModelProto(model.proto);
      await fs.writeFile(modelTemporary, encoded, { flag: 'wx' });
      return {
        modelPath: outputPath,
        modelBytes: encoded.length,
        dataPath: external.length ? dataPath : undefined,
        dataBytes,
        externalTensors: external.length,
      };
    });
  } finally {
    // The in-memory model keeps describing its input files: restore what the save rewrote.
    for (const [tensor, fields] of saved) {
      clearData(tensor);
      for (const [field, value] of Object.entries(fields)) if (value !== undefined) (tensor as Record<string, unknown>)[field] = value;
    }
  }
}
