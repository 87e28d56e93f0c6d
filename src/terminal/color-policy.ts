import { Chalk, type ChalkInstance, type ColorSupportLevel } from 'chalk';

/** The parts of a stream the colour decision looks at (a real tty.WriteStream, or a fake in tests). */
export interface ColorTarget {
  isTTY?: boolean;
  getColorDepth?: () => number;
}

export type Environment = Record<string, string | undefined>;

// FORCE_COLOR values as chalk and Node read them: a level, or a word for on/off.
const FORCE_COLOR_LEVELS: Record<string, ColorSupportLevel> = {
  '': 1,
  true: 1,
  false: 0,
  '0': 0,
  '1': 1,
  '2': 2,
  '3': 3,
};

/**
 * How many colours to use on `stream`. FORCE_COLOR is checked first, as Node's own tty does, so a user
 * who sets NO_COLOR globally can still force colour for one run. NO_COLOR counts only when non-empty
 * (https://no-color.org). Otherwise colour needs a terminal: pipes and files get plain text.
 */
export function colorLevel(stream: ColorTarget, env: Environment = process.env): ColorSupportLevel {
  const forced = env.FORCE_COLOR;
  if (forced !== undefined) return FORCE_COLOR_LEVELS[forced.toLowerCase()] ?? 1;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (stream.isTTY !== true) return 0;
  // getColorDepth also knows TERM=dumb and CI terminals; it answers in bits per colour.
  const depth = stream.getColorDepth?.() ?? 4;
  if (depth >= 24) return 3;
  if (depth >= 8) return 2;
  if (depth >= 4) return 1;
  return 0;
}

/**
 * A chalk bound to the policy for one stream. chalk's default instance decides on its own from
 * process.stdout and ignores NO_COLOR, so every styled string in modelpress goes through one of these.
 */
export function stylesFor(stream: ColorTarget, env: Environment = process.env): ChalkInstance {
  return new Chalk({ level: colorLevel(stream, env) });
}

/** Plain text: for pure renderers called without a terminal in mind (tests, files). */
export const plainStyles: ChalkInstance = new Chalk({ level: 0 });
