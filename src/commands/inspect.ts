import type { Command } from 'commander';
import { engineInfo, type EngineInfo } from '../engine/tensor-engine.js';
import { describeModel } from '../inspect/describe-model.js';
import type { ModelDescription } from '../inspect/model-description.js';
import { renderDescription } from '../inspect/render-description.js';
import { locateModel } from '../model-format.js';
import { contextFor } from './command-context.js';

/** inspect's result, and its --json document: the description plus the engine other commands would use. */
export type InspectReport = ModelDescription & { engine: EngineInfo };

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description("show a model's inputs, outputs, operators, parameters and weight files")
    .argument('<model>', 'an .onnx file, a TF.js model.json, or a folder holding model.json')
    .action(async (modelPath: string, _options: unknown, command: Command) => {
      const context = contextFor(command);
      // Locate first: a mistyped path should fail at once, before any engine loads.
      const model = await locateModel(modelPath);
      const engine = engineInfo(await context.engine());
      const report: InspectReport = { ...(await describeModel(model)), engine };
      context.output.result(
        report,
        (value) => `${renderDescription(value, context.stdoutStyles)}\n${context.stdoutStyles.bold('Engine')}  ${value.engine.name} (tfjs backend ${value.engine.backend}, ${value.engine.device})`,
      );
    });
}
