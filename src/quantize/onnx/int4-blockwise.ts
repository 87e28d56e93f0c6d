import { ModelpressError } from '../../errors.js';
import type { OnnxSchemeContext } from '../schemes.js';
import type { TensorDecision } from '../quantize-report.js';

/** Being written (issue 3). */
export async function quantizeInt4Blockwise(context: OnnxSchemeContext): Promise<TensorDecision[]> {
  throw new ModelpressError(`--scheme ${context.options.scheme} is not implemented yet for this format`);
}
