import { globToRegExp, matchesAnyGlob } from './glob-pattern.js';

/**
 * Which weights a quantize run may touch: --include / --exclude globs matched against the consuming node's
 * name, its op type and the weight's name, and --min-size (weights with fewer elements stay float).
 * Exclusion wins over inclusion; with no --include everything is included.
 */
export interface WeightSelectionOptions {
  include: string[];
  exclude: string[];
  minSize: number;
}

export interface SelectionCandidate {
  weightName: string;
  elements: number;
  nodeName?: string;
  opType?: string;
}

/** undefined when the weight is selected, otherwise the reason it is not (for the report). */
export type SelectionVerdict = string | undefined;

export class WeightSelection {
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];

  constructor(readonly options: WeightSelectionOptions) {
    this.include = options.include.map(globToRegExp);
    this.exclude = options.exclude.map(globToRegExp);
  }

  static all(): WeightSelection {
    return new WeightSelection({ include: [], exclude: [], minSize: 0 });
  }

  verdict(candidate: SelectionCandidate): SelectionVerdict {
    const names = [candidate.nodeName, candidate.opType, candidate.weightName].filter((name): name is string => !!name);
    if (names.some((name) => matchesAnyGlob(name, this.exclude))) return 'excluded by --exclude';
    if (this.include.length && !names.some((name) => matchesAnyGlob(name, this.include))) return 'not matched by --include';
    if (candidate.elements < this.options.minSize) return `smaller than --min-size ${this.options.minSize}`;
    return undefined;
  }
}
