import { UsageError } from '../errors.js';
import type { RunnerValueInfo } from '../runners/model-runner.js';

/**
 * The concrete shape a benchmark feeds to an input. --shape wins; dimension 0 (the batch) is the --batch-size
 * being measured, else 1 when open; any other open dimension gets a default by the first rule of
 * OPEN_DIMENSION_DEFAULTS that fits, and is reported so the user can pick a size with --shape.
 */

interface OpenDimensionDefault {
  size: number;
  why: string;
  fits(input: RunnerValueInfo, axis: number): boolean;
}

const CHANNEL_COUNTS = new Set([1, 3, 4]);
const fixedChannels = (dim: number | string | null | undefined) => typeof dim === 'number' && CHANNEL_COUNTS.has(dim);

/** First match wins; the last rule catches everything (onnxruntime_perf_test's choice for free dimensions). */
const OPEN_DIMENSION_DEFAULTS: OpenDimensionDefault[] = [
  {
    size: 224,
    why: 'image side (NCHW)',
    fits: (input, axis) => input.shape!.length === 4 && fixedChannels(input.shape![1]) && (axis === 2 || axis === 3),
  },
  {
    size: 224,
    why: 'image side (NHWC)',
    fits: (input, axis) => input.shape!.length === 4 && fixedChannels(input.shape![3]) && (axis === 1 || axis === 2),
  },
  {
    size: 128,
    why: 'sequence length',
    fits: (input, axis) => input.shape!.length === 2 && axis === 1 && /^u?int/.test(input.dtype ?? ''),
  },
  { size: 1, why: 'open dimension', fits: () => true },
];
export interface ResolvedShape {
  shape: number[];
  /** Open dimensions that got a default size, e.g. "dim 2 'width' = 1". */
  defaulted: string[];
}

export function resolveInputShape(input: RunnerValueInfo, override: number[] | undefined, batchSize: number | undefined): ResolvedShape {
  const declared = input.shape;
  if (override && declared && override.length !== declared.length) {
    throw new UsageError(`--shape ${input.name}=${override.join('x')} has ${override.length} dimensions, the input has ${declared.length}`);
  }
  if (!override && !declared) throw new UsageError(`input '${input.name}' has no declared shape: pass --shape ${input.name}=...`);
  const defaulted: string[] = [];
  const dims = (override ?? declared!).map((dim, axis) => {
    if (typeof dim === 'number' && dim > 0) return dim;
    if (axis === 0) return batchSize ?? 1;
    const rule = OPEN_DIMENSION_DEFAULTS.find((candidate) => candidate.fits(input, axis))!;
    defaulted.push(`dim ${axis}${typeof dim === 'string' ? ` '${dim}'` : ''} = ${rule.size} (${rule.why})`);
    return rule.size;
  });
  if (batchSize !== undefined && dims.length > 0) dims[0] = batchSize;
  const conflict = declared?.findIndex((dim, axis) => typeof dim === 'number' && dim > 0 && dim !== dims[axis]) ?? -1;
  if (conflict >= 0) {
    const cause = conflict === 0 && batchSize !== undefined ? `--batch-size ${batchSize}` : `--shape ${input.name}=${dims.join('x')}`;
    throw new UsageError(`${cause}: input '${input.name}' fixes dimension ${conflict} at ${declared![conflict]}`);
  }
  return { shape: dims, defaulted };
}

/** Whether a concrete `shape` fits what an input declares (same rank, fixed dimensions equal). */
export function shapeFits(declared: RunnerValueInfo['shape'], shape: readonly number[]): boolean {
  if (!declared) return true;
  return declared.length === shape.length && declared.every((dim, axis) => typeof dim !== 'number' || dim <= 0 || dim === shape[axis]);
}

export const formatDims = (shape: ReadonlyArray<number | string | null>) => `[${shape.map((dim) => dim ?? '?').join(', ')}]`;
