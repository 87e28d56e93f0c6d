import { UsageError } from '../errors.js';

/** Parse repeated `--shape name=1x3x48x320` options into concrete shapes by input name. */
export function parseShapeOverrides(values: string[]): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const value of values) {
    const match = /^(.+)=(\d+(?:x\d+)*)$/.exec(value);
    if (!match) throw new UsageError(`--shape '${value}' should look like name=1x3x48x320`);
    shapes[match[1]!] = match[2]!.split('x').map(Number);
  }
  return shapes;
}

/**
 * A concrete shape for an input: --shape wins; otherwise known dimensions are kept and an unknown first
 * dimension (the batch) becomes 1. Any other unknown dimension needs --shape: guessing one could hit a
 * size the model cannot take.
 */
export function concreteShape(name: string, declared: Array<number | string | null> | null, overrides: Record<string, number[]>): number[] {
  const override = overrides[name];
  if (override) {
    if (declared && declared.length !== override.length) {
      throw new UsageError(`--shape ${name}=${override.join('x')} has ${override.length} dimensions, the input has ${declared.length}`);
    }
    return override;
  }
  if (!declared) throw new UsageError(`input '${name}' has no declared shape: pass --shape ${name}=... (or --no-verify)`);
  return declared.map((dim, index) => {
    if (typeof dim === 'number' && dim > 0) return dim;
    if (index === 0) return 1;
    const example = declared.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : 'N')).join('x');
    throw new UsageError(`input '${name}' has a symbolic dimension ${index} ('${dim ?? '?'}'): pass --shape ${name}=${example} with N chosen (or --no-verify)`);
  });
}
