import cliProgress from 'cli-progress';

/** What a long-running step reports; commands get one from their context and must call stop(). */
export interface ProgressBar {
  /** Set the number of finished units. */
  update(done: number): void;
  increment(by?: number): void;
  stop(): void;
}

/** Makes one bar for a step with `total` units, e.g. `progress('quantizing', tensors.length)`. */
export type ProgressFactory = (label: string, total: number) => ProgressBar;

export interface ProgressPolicy {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  json: boolean;
  quiet: boolean;
}

/**
 * Bars redraw in place with cursor escapes, which is noise in a log file or a CI console, and --json
 * or --quiet promise a clean stderr apart from warnings and errors.
 */
export function progressEnabled(policy: ProgressPolicy): boolean {
  return policy.stream.isTTY === true && !policy.json && !policy.quiet;
}

const noProgress: ProgressBar = {
  update() {},
  increment() {},
  stop() {},
};

export function createProgressFactory(policy: ProgressPolicy): ProgressFactory {
  if (!progressEnabled(policy)) return () => noProgress;
  return (label, total) => {
    const bar = new cliProgress.SingleBar(
      {
        stream: policy.stream,
        format: '{label} [{bar}] {percentage}% {value}/{total} eta {eta_formatted}',
        hideCursor: true,
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { label });
    return {
      update: (done) => bar.update(done),
      increment: (by = 1) => bar.increment(by),
      stop: () => bar.stop(),
    };
  };
}
