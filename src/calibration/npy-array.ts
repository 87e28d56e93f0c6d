import { FormatError } from '../errors.js';

/**
 * NumPy's .npy format (numpy/lib/format.py, versions 1-3): the magic "\x93NUMPY", a version, a header length
 * (2 bytes in v1, 4 in v2/v3), a Python dict literal {'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 16), } padded with spaces, then the raw C-order elements.
 */

export type ArrayData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** An array as a file holds it, before it is checked against a model input. dtype uses ONNX / ort names. */
export interface FileArray {
  dtype: string;
  shape: number[];
  /** Elements in C order; bool is Uint8Array (0/1), float16 is Uint16Array bit patterns. */
  data: ArrayData;
}

interface NumpyType {
  dtype: string;
  bytes: number;
  read(buffer: ArrayBuffer, count: number): ArrayData;
}

/** NumPy type codes (without the byte-order character) -> element type. */
const NUMPY_TYPES: Record<string, NumpyType> = {
  f4: { dtype: 'float32', bytes: 4, read: (buffer, count) => new Float32Array(buffer, 0, count) },
  f8: { dtype: 'float64', bytes: 8, read: (buffer, count) => new Float64Array(buffer, 0, count) },
  f2: { dtype: 'float16', bytes: 2, read: (buffer, count) => new Uint16Array(buffer, 0, count) },
  i1: { dtype: 'int8', bytes: 1, read: (buffer, count) => new Int8Array(buffer, 0, count) },
  u1: { dtype: 'uint8', bytes: 1, read: (buffer, count) => new Uint8Array(buffer, 0, count) },
  i2: { dtype: 'int16', bytes: 2, read: (buffer, count) => new Int16Array(buffer, 0, count) },
  u2: { dtype: 'uint16', bytes: 2, read: (buffer, count) => new Uint16Array(buffer, 0, count) },
  i4: { dtype: 'int32', bytes: 4, read: (buffer, count) => new Int32Array(buffer, 0, count) },
  u4: { dtype: 'uint32', bytes: 4, read: (buffer, count) => new Uint32Array(buffer, 0, count) },
  i8: { dtype: 'int64', bytes: 8, read: (buffer, count) => new BigInt64Array(buffer, 0, count) },
  u8: { dtype: 'uint64', bytes: 8, read: (buffer, count) => new BigUint64Array(buffer, 0, count) },
  b1: { dtype: 'bool', bytes: 1, read: (buffer, count) => new Uint8Array(buffer, 0, count) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function headerField(header: string, key: string, pattern: string, where: string): string {
  const match = new RegExp(`['"]${key}['"]\\s*:\\s*${pattern}`).exec(header);
  if (!match) throw new FormatError(`${where}: .npy header has no '${key}' (${header.trim()})`);
  return match[1]!;
}

/** Parse one .npy file's bytes. `where` names the file (and archive entry) in messages. */
export function parseNpy(bytes: Uint8Array, where: string): FileArray {
  if (bytes.length < 10 || MAGIC.some((byte, index) => bytes[index] !== byte)) {
    throw new FormatError(`${where}: not a .npy array (no \\x93NUMPY magic)`);
  }
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new FormatError(`${where}: .npy format version ${major}.${bytes[7]} is not supported (1-3 are)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart) throw new FormatError(`${where}: .npy header is truncated`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = headerStart + headerLength;
  if (bytes.length < dataStart) throw new FormatError(`${where}: .npy header is truncated`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = headerField(header, 'descr', `['"]([^'"]*)['"]`, where);
  const fortranOrder = headerField(header, 'fortran_order', '(True|False)', where) === 'True';
  const shapeText = headerField(header, 'shape', '\\(([^)]*)\\)', where);
  const shape = shapeText
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const dim = Number(part.replace(/L$/, ''));
      if (!Number.isInteger(dim) || dim < 0) throw new FormatError(`${where}: .npy shape (${shapeText}) is not a tuple of sizes`);
      return dim;
    });

  const order = descr[0]!;
  const code = descr.slice(1);
  const type = NUMPY_TYPES[code];
  if (!type || !'<|='.includes(order)) {
    const why = order === '>' && type ? 'big-endian data is not supported (save with .astype("<' + code + '"))' : `element type '${descr}' is not supported`;
    throw new FormatError(`${where}: ${why}`);
  }
  if (fortranOrder && shape.filter((dim) => dim > 1).length > 1) {
    throw new FormatError(`${where}: Fortran-order arrays are not supported (save np.ascontiguousarray(x))`);
  }
  const count = shape.reduce((product, dim) => product * dim, 1);
  const length = count * type.bytes;
  if (bytes.length - dataStart < length) {
    throw new FormatError(`${where}: .npy data is truncated (${bytes.length - dataStart} bytes for ${count} ${type.dtype} elements)`);
  }
  // A private, aligned copy: the file's data offset need not be a multiple of the element size.
  // (new Uint8Array(view) copies; a Buffer's slice() would not.)
  const copy = new Uint8Array(bytes.subarray(dataStart, dataStart + length));
  return { dtype: type.dtype, shape, data: type.read(copy.buffer, count) };
}
