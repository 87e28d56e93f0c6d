import { ModelpressError } from '../../errors.js';
import type { OnnxSchemeContext } from '../schemes.js';
import type { TensorDecision } from '../quantize-report.js';

/** Being written (issue 3). */
export async function quantizeBnb4(context: OnnxSchemeContext, _codeBook: 'nf4' | 'fp4'): Promise<TensorDecision[]> {
  throw new ModelpressError(`--scheme ${context.options.scheme} is not implemented yet for this format`);
}

/** The nf4 and fp4 schemes share one rewrite that takes the code book. */
export function bnb4Variant(codeBook: 'nf4' | 'fp4', rewrite: (context: OnnxSchemeContext, codeBook: 'nf4' | 'fp4') => Promise<TensorDecision[]>) {
  return (context: OnnxSchemeContext) => rewrite(context, codeBook);
}
