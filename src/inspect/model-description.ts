/** What `inspect` reports about a model, the same shape for every format (also the `--json` output). */

export type ModelFormatName = 'onnx' | 'tfjs-layers' | 'tfjs-graph';

/** A model input or output; symbolic dimensions stay as their names, unknown ones are null. */
export interface ValueSummary {
  name: string;
  dtype: string;
  shape: Array<number | string | null> | null;
}

export interface TensorSummary {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

export interface DtypeTotals {
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface ModelDescription {
  path: string;
  format: ModelFormatName;
  /** ONNX: irVersion, opsets ({domain: version}), producer. TF.js: format, generatedBy, convertedBy. */
  formatVersion: Record<string, unknown>;
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  /** ONNX op_type (domain-qualified when not the default domain) or Keras layer class / TF op -> count. */
  operators: Record<string, number>;
  parameters: { count: number; bytes: number; byDtype: Record<string, DtypeTotals> };
  /** Largest weights first (at most 10). */
  largestTensors: TensorSummary[];
  /** ONNX external data files / TF.js weight shards, relative to the model's folder. */
  dataFiles: Array<{ path: string; bytes: number }>;
}
