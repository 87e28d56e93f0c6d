/** Protobuf scalar types: the wire type each is encoded with, declared once for reader and writer. */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

export const SCALAR_WIRE_TYPES: Record<string, number> = {
  double: WIRE_FIXED64,
  float: WIRE_FIXED32,
  int32: WIRE_VARINT,
  uint32: WIRE_VARINT,
  sint32: WIRE_VARINT,
  fixed32: WIRE_FIXED32,
  sfixed32: WIRE_FIXED32,
  int64: WIRE_VARINT,
  uint64: WIRE_VARINT,
  sint64: WIRE_VARINT,
  fixed64: WIRE_FIXED64,
  sfixed64: WIRE_FIXED64,
  bool: WIRE_VARINT,
  string: WIRE_LENGTH_DELIMITED,
  bytes: WIRE_LENGTH_DELIMITED,
};

/** 64-bit integers stay exact: a JS number when it is a safe integer, a bigint beyond that (INT64_MAX in Slice ends). */
export type Int64 = number | bigint;
