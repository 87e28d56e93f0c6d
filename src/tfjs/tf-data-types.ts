/**
 * TensorFlow `DataType` enum names, as GraphDef JSON writes them in node attributes and signatures, and
 * the dtype names modelpress reports for them.
 */
export const TF_DATA_TYPES: Record<string, string> = {
  DT_FLOAT: 'float32',
  DT_DOUBLE: 'float64',
  DT_HALF: 'float16',
  DT_BFLOAT16: 'bfloat16',
  DT_INT8: 'int8',
  DT_INT16: 'int16',
  DT_INT32: 'int32',
  DT_INT64: 'int64',
  DT_UINT8: 'uint8',
  DT_UINT16: 'uint16',
  DT_UINT32: 'uint32',
  DT_UINT64: 'uint64',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
  DT_COMPLEX64: 'complex64',
  DT_COMPLEX128: 'complex128',
  DT_RESOURCE: 'resource',
  DT_VARIANT: 'variant',
};

/** The reported name of a TF DataType; unknown names pass through so nothing is hidden. */
export function tfDataTypeName(dataType: unknown): string {
  if (typeof dataType !== 'string') return 'unknown';
  return TF_DATA_TYPES[dataType] ?? dataType;
}

