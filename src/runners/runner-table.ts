import type { ModelFamily } from '../model-format.js';
import type { ModelRunner, RunnerOptions } from './model-runner.js';
import { openOnnxRuntimeRunner } from './onnxruntime-runner.js';
import { openTfjsModelRunner } from './tfjs-runner.js';

/** The runtime each model family runs in; a new runtime is one file and one row here. */
export const RUNNERS: Record<ModelFamily, (modelPath: string, options: RunnerOptions) => Promise<ModelRunner>> = {
  onnx: openOnnxRuntimeRunner as (modelPath: string, options: RunnerOptions) => Promise<ModelRunner>,
  tfjs: openTfjsModelRunner as (modelPath: string, options: RunnerOptions) => Promise<ModelRunner>,
};
