import { ModelpressError } from '../../errors.js';
import type { TfjsSchemeContext, TfjsSchemeResult } from '../schemes.js';

/** Being written (issue 3). */
export async function quantizeTfjsWeights(context: TfjsSchemeContext): Promise<TfjsSchemeResult> {
  throw new ModelpressError(`--scheme ${context.options.scheme} is not implemented yet for TF.js`);
}
