import protobuf from 'protobufjs';
import {
  Int64,
  SCALAR_WIRE_TYPES,
  WIRE_END_GROUP,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LENGTH_DELIMITED,
  WIRE_START_GROUP,
  WIRE_VARINT,
} from './wire-types.js';

/**
 * A schema-driven protobuf codec that, unlike protobufjs's generated decoders, keeps every field it does
 * not know as its raw wire record and writes it back: a model made by a newer exporter round-trips
 * without loss. Messages are plain objects keyed by the .proto field names; `bytes` fields are views into
 * the input buffer (no copy, so a 1 GB initializer is not duplicated on load).
 */

export interface DecodedMessage {
  [field: string]: unknown;
  /** Wire records (tag included) of fields this schema does not define, in the order they were read. */
  $unknown?: Uint8Array[];
}

interface FieldPlan {
  name: string;
  id: number;
  repeated: boolean;
  packed: boolean;
  /** A scalar type name, 'enum' (encoded as int32) or 'message'. */
  kind: string;
  messageType?: protobuf.Type;
}

const textDecoder = new TextDecoder('utf-8');
const textEncoder = new TextEncoder();

function isPackable(kind: string): boolean {
  return kind === 'enum' || (kind in SCALAR_WIRE_TYPES && kind !== 'string' && kind !== 'bytes');
}

function wireTypeOf(kind: string): number {
  if (kind === 'enum') return WIRE_VARINT;
  if (kind === 'message') return WIRE_LENGTH_DELIMITED;
  return SCALAR_WIRE_TYPES[kind]!;
}

interface LongValue {
  toNumber(): number;
  toString(): string;
}

function longToInt64(value: LongValue): Int64 {
  const asNumber = value.toNumber();
  return Number.isSafeInteger(asNumber) ? asNumber : BigInt(value.toString());
}

export class SchemaCodec {
  private readonly plans = new Map<protobuf.Type, { byId: Map<number, FieldPlan>; ordered: FieldPlan[] }>();

  constructor(private readonly root: protobuf.Root) {
    root.resolveAll();
  }

  static fromProtoText(text: string): SchemaCodec {
    return new SchemaCodec(protobuf.parse(text, { keepCase: true }).root);
  }

  type(name: string): protobuf.Type {
    return this.root.lookupType(name);
  }

  private plan(type: protobuf.Type) {
    let plan = this.plans.get(type);
    if (!plan) {
      const ordered = type.fieldsArray
        .map((field): FieldPlan => {
          const resolved = field.resolvedType;
          const kind = resolved instanceof protobuf.Type ? 'message' : resolved instanceof protobuf.Enum ? 'enum' : field.type;
          return {
            name: field.name,
            id: field.id,
            repeated: field.repeated,
            packed: field.repeated && field.packed && isPackable(kind),
            kind,
            messageType: resolved instanceof protobuf.Type ? resolved : undefined,
          };
        })
        .sort((a, b) => a.id - b.id);
      plan = { byId: new Map(ordered.map((field) => [field.id, field])), ordered };
      this.plans.set(type, plan);
    }
    return plan;
  }

  // ---------------------------------------------------------------- decoding

  decode(type: protobuf.Type, bytes: Uint8Array): DecodedMessage {
    const reader = protobuf.Reader.create(bytes);
    return this.decodeFrom(type, reader, reader.len, 0);
  }

  private decodeFrom(type: protobuf.Type, reader: protobuf.Reader, end: number, depth: number): DecodedMessage {
    if (depth > 100) throw new Error('message nesting deeper than 100 levels');
    const { byId } = this.plan(type);
    const message: DecodedMessage = {};
    while (reader.pos < end) {
      const tagStart = reader.pos;
      const tag = reader.uint32();
      const id = tag >>> 3;
      const wireType = tag & 7;
      if (id === 0) throw new Error(`invalid field number 0 at byte ${tagStart}`);
      const field = byId.get(id);
      if (field && wireType === wireTypeOf(field.kind)) {
        const value = this.readValue(field, reader, depth);
        if (field.repeated) ((message[field.name] ??= []) as unknown[]).push(value);
        else message[field.name] = value;
      } else if (field && field.repeated && isPackable(field.kind) && wireType === WIRE_LENGTH_DELIMITED) {
        const packedEnd = reader.uint32() + reader.pos;
        if (packedEnd > end) throw new Error(`packed field ${field.name} runs past the end of its message`);
        const values = (message[field.name] ??= []) as unknown[];
        while (reader.pos < packedEnd) values.push(this.readValue(field, reader, depth));
      } else {
        this.skipField(reader, wireType, id);
        (message.$unknown ??= []).push(reader.buf.subarray(tagStart, reader.pos));
      }
      if (reader.pos > end) throw new Error(`field ${id} runs past the end of its message`);
    }
    return message;
  }

  private skipField(reader: protobuf.Reader, wireType: number, id: number): void {
    if (wireType === WIRE_START_GROUP) {
      // Groups are skipped up to their matching end tag.
      for (;;) {
        const tag = reader.uint32();
        if ((tag & 7) === WIRE_END_GROUP) {
          if (tag >>> 3 !== id) throw new Error(`mismatched end group for field ${id}`);
          return;
        }
        this.skipField(reader, tag & 7, tag >>> 3);
      }
    }
    if (wireType === WIRE_END_GROUP || wireType > WIRE_FIXED32) throw new Error(`invalid wire type ${wireType} for field ${id}`);
    reader.skipType(wireType);
  }

  private readValue(field: FieldPlan, reader: protobuf.Reader, depth: number): unknown {
    switch (field.kind) {
      case 'message': {
        const length = reader.uint32();
        const end = reader.pos + length;
        if (end > reader.len) throw new Error(`field ${field.name} runs past the end of the data`);
        return this.decodeFrom(field.messageType!, reader, end, depth + 1);
      }
      case 'enum':
      case 'int32':
        return reader.int32();
      case 'uint32':
        return reader.uint32();
      case 'sint32':
        return reader.sint32();
      case 'int64':
        return longToInt64(reader.int64() as unknown as LongValue);
      case 'uint64':
        return longToInt64(reader.uint64() as unknown as LongValue);
      case 'sint64':
        return longToInt64(reader.sint64() as unknown as LongValue);
      case 'fixed64':
        return longToInt64(reader.fixed64() as unknown as LongValue);
      case 'sfixed64':
        return longToInt64(reader.sfixed64() as unknown as LongValue);
      case 'fixed32':
        return reader.fixed32();
      case 'sfixed32':
        return reader.sfixed32();
      case 'bool':
        return reader.bool();
      case 'float':
        return reader.float();
      case 'double':
        return reader.double();
      case 'string': {
        const bytes = reader.bytes();
        return textDecoder.decode(bytes);
      }
      case 'bytes':
        return reader.bytes();
      default:
        throw new Error(`unsupported field type ${field.kind}`);
    }
  }

  // ---------------------------------------------------------------- encoding

  /** Encode in field-number order (as protobuf's C++ serializer does), unknown records last. */
  encode(type: protobuf.Type, message: DecodedMessage): Uint8Array {
    const sizes = new Map<DecodedMessage, number>();
    const total = this.measure(type, message, sizes);
    const output = new WireWriter(total);
    this.write(type, message, output, sizes);
    if (output.pos !== total) throw new Error(`internal: encoded ${output.pos} bytes, measured ${total}`);
    return output.bytes;
  }

  /** Byte size of `message` once encoded, without encoding it. */
  encodedSize(type: protobuf.Type, message: DecodedMessage): number {
    return this.measure(type, message, new Map());
  }

  private measure(type: protobuf.Type, message: DecodedMessage, sizes: Map<DecodedMessage, number>): number {
    let size = 0;
    for (const field of this.plan(type).ordered) {
      const value = message[field.name];
      if (value === undefined || value === null) continue;
      const tagSize = varintSize((field.id << 3) >>> 0);
      if (field.repeated) {
        const values = value as unknown[];
        if (values.length === 0) continue;
        if (field.packed) {
          let body = 0;
          for (const item of values) body += valueSize(field, item, sizes, this);
          size += tagSize + varintSize(body) + body;
        } else {
          for (const item of values) size += tagSize + valueSize(field, item, sizes, this);
        }
      } else {
        size += tagSize + valueSize(field, value, sizes, this);
      }
    }
    for (const record of message.$unknown ?? []) size += record.length;
    sizes.set(message, size);
    return size;
  }

  /** @internal used by valueSize for nested messages. */
  measureNested(type: protobuf.Type, message: DecodedMessage, sizes: Map<DecodedMessage, number>): number {
    return this.measure(type, message, sizes);
  }

  private write(type: protobuf.Type, message: DecodedMessage, out: WireWriter, sizes: Map<DecodedMessage, number>): void {
    for (const field of this.plan(type).ordered) {
      const value = message[field.name];
      if (value === undefined || value === null) continue;
      if (field.repeated) {
        const values = value as unknown[];
        if (values.length === 0) continue;
        if (field.packed) {
          let body = 0;
          for (const item of values) body += valueSize(field, item, sizes, this);
          out.varint((field.id << 3) | WIRE_LENGTH_DELIMITED);
          out.varint(body);
          for (const item of values) this.writeValue(field, item, out, sizes);
        } else {
          for (const item of values) {
            out.varint((field.id << 3) | wireTypeOf(field.kind));
            this.writeValue(field, item, out, sizes);
          }
        }
      } else {
        out.varint((field.id << 3) | wireTypeOf(field.kind));
        this.writeValue(field, value, out, sizes);
      }
    }
    for (const record of message.$unknown ?? []) out.raw(record);
  }

  private writeValue(field: FieldPlan, value: unknown, out: WireWriter, sizes: Map<DecodedMessage, number>): void {
    switch (field.kind) {
      case 'message': {
        const nested = value as DecodedMessage;
        out.varint(sizes.get(nested)!);
        this.write(field.messageType!, nested, out, sizes);
        return;
      }
      case 'enum':
      case 'int32':
      case 'int64':
      case 'uint32':
      case 'uint64':
        out.varint64(value as Int64);
        return;
      case 'sint32':
      case 'sint64':
        out.varint64(zigzag(value as Int64));
        return;
      case 'bool':
        out.varint(value ? 1 : 0);
        return;
      case 'fixed32':
      case 'sfixed32':
        out.fixed32(Number(value));
        return;
      case 'fixed64':
      case 'sfixed64':
        out.fixed64(value as Int64);
        return;
      case 'float':
        out.float32(value as number);
        return;
      case 'double':
        out.float64(value as number);
        return;
      case 'string': {
        const bytes = textEncoder.encode(value as string);
        out.varint(bytes.length);
        out.raw(bytes);
        return;
      }
      case 'bytes': {
        const bytes = value as Uint8Array;
        out.varint(bytes.length);
        out.raw(bytes);
        return;
      }
      default:
        throw new Error(`unsupported field type ${field.kind}`);
    }
  }
}

function zigzag(value: Int64): bigint {
  const big = BigInt(value);
  return BigInt.asUintN(64, (big << 1n) ^ (big >> 63n));
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function varint64Size(value: Int64): number {
  if (typeof value === 'number' && value >= 0 && value <= Number.MAX_SAFE_INTEGER) return varintSize(value);
  // Negative values are sign-extended to 64 bits: always 10 bytes.
  let big = BigInt.asUintN(64, BigInt(value));
  let size = 1;
  while (big >= 0x80n) {
    big >>= 7n;
    size++;
  }
  return size;
}

function valueSize(field: FieldPlan, value: unknown, sizes: Map<DecodedMessage, number>, codec: SchemaCodec): number {
  switch (field.kind) {
    case 'message': {
      const body = codec.measureNested(field.messageType!, value as DecodedMessage, sizes);
      return varintSize(body) + body;
    }
    case 'enum':
    case 'int32':
    case 'int64':
    case 'uint32':
    case 'uint64':
      return varint64Size(value as Int64);
    case 'sint32':
    case 'sint64':
      return varint64Size(zigzag(value as Int64));
    case 'bool':
      return 1;
    case 'fixed32':
    case 'sfixed32':
    case 'float':
      return 4;
    case 'fixed64':
    case 'sfixed64':
    case 'double':
      return 8;
    case 'string': {
      const length = Buffer.byteLength(value as string, 'utf8');
      return varintSize(length) + length;
    }
    case 'bytes': {
      const length = (value as Uint8Array).length;
      return varintSize(length) + length;
    }
    default:
      throw new Error(`unsupported field type ${field.kind}`);
  }
}

/** Writes into a buffer allocated once at the measured size. */
class WireWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  pos = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  varint(value: number): void {
    while (value >= 0x80) {
      this.bytes[this.pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.pos++] = value;
  }

  varint64(value: Int64): void {
    if (typeof value === 'number' && value >= 0 && value <= Number.MAX_SAFE_INTEGER) {
      this.varint(value);
      return;
    }
    let big = BigInt.asUintN(64, BigInt(value));
    while (big >= 0x80n) {
      this.bytes[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.bytes[this.pos++] = Number(big);
  }

  fixed32(value: number): void {
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
  }

  fixed64(value: Int64): void {
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, BigInt(value)), true);
    this.pos += 8;
  }

  float32(value: number): void {
    this.view.setFloat32(this.pos, value, true);
    this.pos += 4;
  }

  float64(value: number): void {
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  raw(bytes: Uint8Array): void {
    this.bytes.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}
