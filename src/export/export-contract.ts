import { ModelpressError } from '../errors.js';
import type { ModelProto } from '../onnx/onnx-proto.js';
import type { TfjsModel } from '../tfjs/load-tfjs-model.js';

/**
 * What every TF.js -> ONNX converter (LayersModel, GraphModel) takes and returns, so the export command,
 * the layout pass and verification treat both the same way.
 */
export interface ExportOptions {
  /** Default opset of the written model (13..21). */
  opset: number;
  /** Change the model's interface to NCHW instead of keeping TF's NHWC at its boundary. */
  nchw: boolean;
  /** Leave the batch dimension symbolic ('batch') rather than fixing it. */
  dynamicBatch: boolean;
}

export const DEFAULT_EXPORT_OPTIONS: ExportOptions = { opset: 17, nchw: false, dynamicBatch: true };
export const SUPPORTED_OPSETS = { min: 13, max: 21 } as const;

export interface ExportedModel {
  proto: ModelProto;
  /** Input and output names as the TF.js model calls them, in its order (kept in the ONNX model). */
  inputNames: string[];
  outputNames: string[];
}

/** A converter for one TF.js model kind: a row of the converter table in export-model.ts. */
export type TfjsToOnnxConverter = (model: TfjsModel, options: ExportOptions) => Promise<ExportedModel>;

export interface UnsupportedFeature {
  kind: 'layer' | 'activation' | 'op' | 'attribute';
  /** The class name, activation or op type, e.g. 'ConvLSTM2D', 'hard_swish', 'NonMaxSuppressionV5'. */
  name: string;
  /** Where it sits: the layer name or the graph node name. */
  where: string;
  detail?: string;
}

/** Every unsupported construct found in one pass over the model, not just the first; nothing is written. */
export class UnsupportedFeaturesError extends ModelpressError {
  readonly features: UnsupportedFeature[];
  constructor(modelPath: string, features: UnsupportedFeature[]) {
    const listed = features.map((feature) => `${feature.kind} ${feature.name} at ${feature.where}${feature.detail ? ` (${feature.detail})` : ''}`);
    super(`${modelPath}: cannot export ${features.length} unsupported construct${features.length === 1 ? '' : 's'}: ${listed.join('; ')}`);
    this.features = features;
  }
}
