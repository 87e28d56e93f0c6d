import type { io } from '@tensorflow/tfjs';
import { readTfjsWeightBytes, type TfjsModel } from './load-tfjs-model.js';

/**
 * A tfjs IOHandler serving a model opened with loadTfjsModel, for `tf.loadLayersModel` and
 * `tf.loadGraphModel` in Node without tfjs-node (whose `file://` handler is the only one that reads
 * files). Weights are read when tfjs asks for them, as one buffer, because that is what tfjs takes.
 */
export function tfjsModelIOHandler(model: TfjsModel): io.IOHandler {
  return {
    load: async () => {
      const weightData = new Uint8Array(model.weights.reduce((total, weight) => total + weight.byteLength, 0));
      let offset = 0;
      for (const weight of model.weights) {
        weightData.set(await readTfjsWeightBytes(model, weight), offset);
        offset += weight.byteLength;
      }
      const json = model.json;
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        trainingConfig: json.trainingConfig as io.TrainingConfig | undefined,
        signature: json.signature as object | undefined,
        userDefinedMetadata: json.userDefinedMetadata as Record<string, object> | undefined,
        modelInitializer: json.modelInitializer as object | undefined,
        initializerSignature: json.initializerSignature as object | undefined,
        weightSpecs: model.weights.map((weight) => weight.spec) as io.WeightsManifestEntry[],
        weightData: weightData.buffer,
      };
    },
  };
}
