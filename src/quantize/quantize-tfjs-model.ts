import { ModelpressError } from '../errors.js';
import type { QuantizeReport } from './quantize-report.js';
import type { QuantizeRequest } from './quantize-request.js';
import type { QuantizationScheme } from './schemes.js';

/** Being written (issue 3). */
export async function quantizeTfjsModel(_request: QuantizeRequest, scheme: QuantizationScheme, modelFile: string): Promise<QuantizeReport> {
  throw new ModelpressError(`${modelFile}: TF.js quantize (--scheme ${scheme.name}) is not written yet`);
}
