import { inflateRawSync } from 'node:zlib';
import { FormatError, messageOf } from '../errors.js';

/**
 * Reading the entries of a ZIP archive (PKWARE APPNOTE 6.3), enough for NumPy's .npz: entries stored
 * (np.savez) or deflated (np.savez_compressed), ZIP64 sizes and offsets (np.savez writes entries with
 * force_zip64), no encryption, no multi-disk archives. Sizes and offsets come from the central directory,
 * which is authoritative (local headers may defer them to a data descriptor); every entry's CRC-32 is
 * checked.
 */

const SIGNATURE = {
  localHeader: 0x04034b50,
  centralHeader: 0x02014b50,
  endOfCentralDirectory: 0x06054b50,
  zip64EndLocator: 0x07064b50,
  zip64End: 0x06064b50,
} as const;

const COMPRESSION: Record<number, { name: string; decode(data: Uint8Array): Uint8Array }> = {
  0: { name: 'stored', decode: (data) => data },
  8: { name: 'deflate', decode: (data) => inflateRawSync(data) },
};

const ZIP64_EXTRA_ID = 0x0001;
const ENCRYPTED_FLAG = 0x0001;

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as ZIP stores it. */
export function crc32(bytes: Uint8Array): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, index) => {
    let value = index;
    for (let bit = 0; bit < 8; bit++) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
    return value >>> 0;
  });
  let crc = 0xffffffff;
  for (let index = 0; index < bytes.length; index++) crc = crcTable[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface CentralEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function uint64(view: DataView, offset: number): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`ZIP64 value ${value} is too large`);
  return Number(value);
}

function findEndOfCentralDirectory(view: DataView, where: string): number {
  // The record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
  for (let offset = view.byteLength - 22; offset >= Math.max(0, view.byteLength - 22 - 0xffff); offset--) {
    if (view.getUint32(offset, true) === SIGNATURE.endOfCentralDirectory) return offset;
  }
  throw new FormatError(`${where}: not a ZIP archive (no end of central directory record)`);
}

function centralDirectory(view: DataView, where: string): { offset: number; count: number } {
  const end = findEndOfCentralDirectory(view, where);
  let count = view.getUint16(end + 10, true);
  let offset = view.getUint32(end + 16, true);
  if (count === 0xffff || offset === 0xffffffff) {
    const locator = end - 20;
    if (locator < 0 || view.getUint32(locator, true) !== SIGNATURE.zip64EndLocator) {
      throw new FormatError(`${where}: ZIP64 archive without its end of central directory locator`);
    }
    const zip64End = uint64(view, locator + 8);
    if (zip64End + 56 > view.byteLength || view.getUint32(zip64End, true) !== SIGNATURE.zip64End) {
      throw new FormatError(`${where}: ZIP64 end of central directory record is missing`);
    }
    count = uint64(view, zip64End + 32);
    offset = uint64(view, zip64End + 48);
  }
  return { offset, count };
}

function readCentralEntries(view: DataView, bytes: Uint8Array, where: string): CentralEntry[] {
  const directory = centralDirectory(view, where);
  const entries: CentralEntry[] = [];
  let offset = directory.offset;
  for (let index = 0; index < directory.count; index++) {
    if (offset + 46 > view.byteLength || view.getUint32(offset, true) !== SIGNATURE.centralHeader) {
      throw new FormatError(`${where}: ZIP central directory is damaged (entry ${index})`);
    }
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    const entry: CentralEntry = {
      flags: view.getUint16(offset + 8, true),
      method: view.getUint16(offset + 10, true),
      crc: view.getUint32(offset + 16, true),
      compressedSize: view.getUint32(offset + 20, true),
      size: view.getUint32(offset + 24, true),
      localOffset: view.getUint32(offset + 42, true),
      name: new TextDecoder().decode(bytes.subarray(offset + 46, offset + 46 + nameLength)),
    };
    readZip64Extra(view, offset + 46 + nameLength, extraLength, entry);
    entries.push(entry);
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The ZIP64 extra field holds, in this order, only the values whose 32-bit fields read 0xFFFFFFFF. */
function readZip64Extra(view: DataView, start: number, length: number, entry: CentralEntry): void {
  for (let offset = start; offset + 4 <= start + length; ) {
    const id = view.getUint16(offset, true);
    const size = view.getUint16(offset + 2, true);
    if (id === ZIP64_EXTRA_ID) {
      let field = offset + 4;
      for (const key of ['size', 'compressedSize', 'localOffset'] as const) {
        if (entry[key] === 0xffffffff && field + 8 <= offset + 4 + size) {
          entry[key] = uint64(view, field);
          field += 8;
        }
      }
    }
    offset += 4 + size;
  }
}

/** Every file in the archive by name, decompressed and CRC-checked. `where` names the archive in messages. */
export function readZipEntries(bytes: Uint8Array, where: string): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const files = new Map<string, Uint8Array>();
  for (const entry of readCentralEntries(view, bytes, where)) {
    if (entry.name.endsWith('/')) continue; // a folder
    const label = `${where}: entry '${entry.name}'`;
    if (entry.flags & ENCRYPTED_FLAG) throw new FormatError(`${label} is encrypted`);
    const compression = COMPRESSION[entry.method];
    if (!compression) throw new FormatError(`${label} uses ZIP compression method ${entry.method} (only stored and deflate are supported)`);
    const local = entry.localOffset;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== SIGNATURE.localHeader) {
      throw new FormatError(`${label}: local header is missing`);
    }
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (dataStart + entry.compressedSize > bytes.length) throw new FormatError(`${label} is truncated`);
    let data: Uint8Array;
    try {
      data = compression.decode(bytes.subarray(dataStart, dataStart + entry.compressedSize));
    } catch (error) {
      throw new FormatError(`${label} cannot be decompressed (${messageOf(error)})`);
    }
    if (data.length !== entry.size || crc32(data) !== entry.crc) {
      throw new FormatError(`${label} is corrupt (size or CRC-32 does not match the directory)`);
    }
    files.set(entry.name, data);
  }
  return files;
}
