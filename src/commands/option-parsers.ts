import { UsageError } from '../errors.js';

/**
 * Commander argument parsers shared by the commands: a bad value is a UsageError (exit 2) naming the flag,
 * the text given and what was expected.
 */

export function numberParser(flag: string, check: (value: number) => boolean, expected: string) {
  return (text: string) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || !check(value)) throw new UsageError(`${flag} '${text}': expected ${expected}`);
    return value;
  };
}

/** Digits only (no 1e3, no 2.0), at least `minimum`. */
export function integerParser(flag: string, minimum: number) {
  return (text: string) => {
    const value = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < minimum) throw new UsageError(`${flag} '${text}': expected an integer >= ${minimum}`);
    return value;
  };
}

/** Repeatable: --shape a=1x3 --shape b=2. */
export const collectRepeated = (text: string, previous: string[] = []) => [...previous, text];

/** Repeatable and comma-separated: --exclude 'lm_head*' --exclude Conv,Gemm. */
export const collectList = (text: string, previous: string[] = []) => [...previous, ...text.split(',').map((item) => item.trim()).filter(Boolean)];
