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

  /**
   * `keptFloat`: exact weight names held in float, each with its reason (the accuracy-target search);
   * `only`: when set, every other weight stays float (one weight quantized alone in a sensitivity trial).
   */
  constructor(
    readonly options: WeightSelectionOptions,
    private readonly keptFloat: ReadonlyMap<string, string> = new Map(),
    private readonly only?: ReadonlySet<string>,
  ) {
    this.include = options.include.map(globToRegExp);
    this.exclude = options.exclude.map(globToRegExp);
  }

  /** The same selection with these weights (by exact name) kept float for the given reasons. */
  keepingFloat(reasons: ReadonlyMap<string, string>): WeightSelection {
    return new WeightSelection(this.options, new Map([...this.keptFloat, ...reasons]), this.only);
  }

  /** The same selection narrowed to exactly these weights. */
  onlyWeights(names: ReadonlySet<string>): WeightSelection {
    return new WeightSelection(this.options, this.keptFloat, names);
  }

  static all(): WeightSelection {
    return new WeightSelection({ include: [], exclude: [], minSize: 0 });
  }

  verdict(candidate: SelectionCandidate): SelectionVerdict {
    const kept = this.keptFloat.get(candidate.weightName);
    if (kept) return kept;
    if (this.only && !this.only.has(candidate.weightName)) return 'not under test in this sensitivity trial';
    const names = [candidate.nodeName, candidate.opType, candidate.weightName].filter((name): name is string => !!name);
    if (names.some((name) => matchesAnyGlob(name, this.exclude))) return 'excluded by --exclude';
    if (this.include.length && !names.some((name) => matchesAnyGlob(name, this.include))) return 'not matched by --include';
    if (candidate.elements < this.options.minSize) return `smaller than --min-size ${this.options.minSize}`;
    return undefined;
  }
}
