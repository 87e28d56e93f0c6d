import { UsageError } from '../errors.js';
import type { RunnerValueInfo } from '../runners/model-runner.js';

/**
 * The concrete shape a benchmark feeds to an input. --shape wins; dimension 0 (the batch) is the --batch-size
 * being measured, else 1 when open; any other open dimension becomes 1, as onnxruntime_perf_test does for free
 * dimensions, and is reported so the user can pick a size with --shape.
 */
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
    defaulted.push(`dim ${axis}${typeof dim === 'string' ? ` '${dim}'` : ''} = 1`);
    return 1;
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
