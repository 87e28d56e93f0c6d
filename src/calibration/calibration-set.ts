import type { Tensor } from 'onnxruntime-node';

/**
 * Representative model inputs (--calibration FILE): each sample maps every model input name to a tensor.
 * Used to collect activation ranges (int8-static, outlier splitting) and as verification inputs.
 */
export interface CalibrationSet {
  /** The file the samples came from, for messages. */
  source: string;
  samples: Array<Record<string, Tensor>>;
}
