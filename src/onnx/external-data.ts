import { promises as fs } from 'node:fs';
import { resolveInsideFolder } from '../io/path-inside-folder.js';
import { FormatError, ModelpressError } from '../errors.js';
import { DATA_LOCATION_EXTERNAL, StringStringEntry, TensorProto } from './onnx-proto.js';

/**
 * ONNX external data: a tensor's bytes live in a file beside the model, named by TensorProto.external_data
 * entries `location` (relative path), `offset` and `length` (onnx/docs/ExternalData.md).
 */

export interface ExternalDataReference {
  location: string;
  offset: number;
  /** Absent means "to the end of the file" (allowed by the spec, rare). */
  length?: number;
}

export function isExternal(tensor: TensorProto): boolean {
  return tensor.data_location === DATA_LOCATION_EXTERNAL;
}

function entryValue(entries: StringStringEntry[], key: string): string | undefined {
  return entries.find((entry) => entry.key === key)?.value;
}

function parseByteCount(value: string | undefined, what: string, tensorName: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new FormatError(`tensor '${tensorName}': external data ${what} '${value}' is not a byte count`);
  }
  return parsed;
}

export function externalDataReference(tensor: TensorProto): ExternalDataReference {
  const entries = tensor.external_data ?? [];
  const name = tensor.name ?? '';
  const location = entryValue(entries, 'location');
  if (!location) throw new FormatError(`tensor '${name}': external data without a location`);
  return {
    location,
    offset: parseByteCount(entryValue(entries, 'offset'), 'offset', name) ?? 0,
    length: parseByteCount(entryValue(entries, 'length'), 'length', name),
  };
}

export function externalDataEntries(reference: Required<ExternalDataReference>): StringStringEntry[] {
  return [
    { key: 'location', value: reference.location },
    { key: 'offset', value: String(reference.offset) },
    { key: 'length', value: String(reference.length) },
  ];
}

/** The absolute path of an external data file; locations outside the model's folder are refused. */
export function resolveExternalDataPath(modelDirectory: string, location: string, tensorName: string): string {
  const resolved = resolveInsideFolder(modelDirectory, location);
  if (resolved === undefined) {
    throw new ModelpressError(
      `tensor '${tensorName}': external data location '${location}' escapes the model's folder (must be a relative path inside ${modelDirectory})`,
    );
  }
  return resolved;
}

/** Check that every external reference points at an existing file long enough to hold it. */
export async function checkExternalData(
  modelDirectory: string,
  tensors: Iterable<TensorProto>,
  expectedByteLength: (tensor: TensorProto) => number | undefined,
): Promise<void> {
  const fileSizes = new Map<string, number>();
  for (const tensor of tensors) {
    if (!isExternal(tensor)) continue;
    const name = tensor.name ?? '';
    const reference = externalDataReference(tensor);
    const file = resolveExternalDataPath(modelDirectory, reference.location, name);
    let size = fileSizes.get(file);
    if (size === undefined) {
      try {
        size = (await fs.stat(file)).size;
      } catch {
        throw new ModelpressError(`tensor '${name}': external data file ${file} is missing`);
      }
      fileSizes.set(file, size);
    }
    const length = reference.length ?? expectedByteLength(tensor) ?? size - reference.offset;
    const expected = expectedByteLength(tensor);
    if (expected !== undefined && reference.length !== undefined && reference.length !== expected) {
      throw new FormatError(
        `tensor '${name}': external data length ${reference.length} does not match its shape and type (${expected} bytes)`,
      );
    }
    if (reference.offset + length > size) {
      throw new FormatError(
        `tensor '${name}': external data file ${file} is truncated (needs bytes ${reference.offset}..${reference.offset + length}, file has ${size})`,
      );
    }
  }
}

/** Read one tensor's bytes from its external file: only that range, never the whole file. */
export async function readExternalBytes(modelDirectory: string, tensor: TensorProto, byteLength: number): Promise<Uint8Array> {
  const reference = externalDataReference(tensor);
  const file = resolveExternalDataPath(modelDirectory, reference.location, tensor.name ?? '');
  const length = reference.length ?? byteLength;
  const handle = await fs.open(file, 'r').catch(() => {
    throw new ModelpressError(`tensor '${tensor.name ?? ''}': external data file ${file} is missing`);
  });
  try {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, reference.offset + filled);
      if (bytesRead === 0) throw new FormatError(`tensor '${tensor.name ?? ''}': external data file ${file} is truncated`);
      filled += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}
