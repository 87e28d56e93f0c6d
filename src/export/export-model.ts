import path from 'node:path';
import type { TensorEngine } from '../engine/tensor-engine.js';
import { ModelpressError } from '../errors.js';
import { checkOutputFolders, checkOutputPaths } from '../io/atomic-write.js';
import { locateModel } from '../model-format.js';
import { OnnxModel } from '../onnx/onnx-model.js';
import { saveOnnxModel } from '../onnx/save-onnx.js';
import type { Logger } from '../terminal/logger.js';
import { loadTfjsModel, tfjsModelFiles } from '../tfjs/load-tfjs-model.js';
import type { TfjsModelKind } from '../tfjs/model-json.js';
import { defaultTfjs } from '../runners/tfjs-model.js';
import type { ExportOptions, TfjsToOnnxConverter } from './export-contract.js';
import { convertGraphModel } from './graph/convert-graph-model.js';
import { convertLayersModel } from './layers/convert-layers-model.js';
import { useNchwInterface, type InterfaceLayout } from './layout/nchw-interface.js';
import { optimizeTransposes, type TransposeStats } from './layout/optimize-transposes.js';
import { assertValidOnnx } from './onnx-checker.js';
import { exportVerificationInputs, verifyExport, type ExportVerification } from './verify-export.js';

/** One converter per TF.js model kind. */
const EXPORT_CONVERTERS: Record<TfjsModelKind, TfjsToOnnxConverter> = {
  'layers-model': convertLayersModel,
  'graph-model': convertGraphModel,
};

export interface ExportOnnxRequest {
  /** model.json, or the folder holding it. */
  input: string;
  output: string;
  options: ExportOptions;
  force: boolean;
  verify: boolean;
  tolerance: number;
  /** --shape overrides for open input dimensions, in the TF.js model's layout. */
  shapes: Record<string, number[]>;
  dataFile?: string;
  log?: Logger;
  engine?: () => Promise<TensorEngine>;
}

export interface ExportReport {
  input: string;
  output: string;
  kind: TfjsModelKind;
  opset: number;
  layout: 'nhwc' | 'nchw';
  inputs: string[];
  outputs: string[];
  nodes: number;
  initializers: number;
  transposes: TransposeStats;
  bytes: number;
  verification?: ExportVerification;
}

/**
 * load -> convert (layer or op table by model kind) -> layout pass -> checker -> save atomically -> verify.
 * Inputs for verification are made before anything is written, so a missing --shape costs nothing.
 */
export async function exportOnnx(request: ExportOnnxRequest): Promise<ExportReport> {
  const located = await locateModel(request.input);
  if (located.family !== 'tfjs') throw new ModelpressError(`${request.input}: export-onnx takes a TF.js model (model.json); this is ${located.family}`);
  const model = await loadTfjsModel(located.file);
  checkOutputFolders([request.output]);
  checkOutputPaths([request.output], tfjsModelFiles(model), request.force);

  const tf = request.verify ? (request.engine ? (await request.engine()).tf : await defaultTfjs()) : undefined;
  const feeds = tf ? await exportVerificationInputs({ modelJsonPath: located.file, tf, shapes: request.shapes, dataFile: request.dataFile }) : undefined;

  const exported = await EXPORT_CONVERTERS[model.kind](model, request.options);
  const layout: InterfaceLayout = request.options.nchw ? useNchwInterface(exported.proto) : { inputs: {}, outputs: {} };
  const transposes = optimizeTransposes(exported.proto);
  assertValidOnnx(exported.proto, request.output);
  request.log?.info(`${model.kind} -> ${exported.proto.graph!.node!.length} ONNX nodes (opset ${request.options.opset}), ${transposes.after} Transpose${transposes.after === 1 ? '' : 's'} left of ${transposes.before}`);

  const saved = await saveOnnxModel(new OnnxModel(exported.proto, request.output, false), request.output, {
    externalData: 'auto',
    force: request.force,
    protectedPaths: tfjsModelFiles(model),
  });
  const report: ExportReport = {
    input: located.file,
    output: request.output,
    kind: model.kind,
    opset: request.options.opset,
    layout: request.options.nchw ? 'nchw' : 'nhwc',
    inputs: exported.inputNames,
    outputs: exported.outputNames,
    nodes: exported.proto.graph!.node!.length,
    initializers: exported.proto.graph!.initializer!.length,
    transposes,
    bytes: saved.modelBytes + saved.dataBytes,
  };
  if (tf && feeds) {
    report.verification = await verifyExport({ modelJsonPath: located.file, onnx: path.resolve(request.output), layout, tolerance: request.tolerance, tf, dataFile: request.dataFile }, feeds);
  }
  return report;
}
