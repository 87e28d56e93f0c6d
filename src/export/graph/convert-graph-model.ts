import { UnsupportedFeaturesError, type TfjsToOnnxConverter } from '../export-contract.js';

/** Placeholder until the GraphModel converter lands: every GraphModel is reported unsupported. */
export const convertGraphModel: TfjsToOnnxConverter = async (model) => {
  throw new UnsupportedFeaturesError(model.modelJsonPath, [{ kind: 'op', name: 'GraphModel', where: model.modelJsonPath, detail: 'GraphModel export is not available in this build' }]);
};
