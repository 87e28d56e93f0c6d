import type { ModelRunner } from '../runners/model-runner.js';

/**
 * The timed loop. Warm-up runs first (untimed), then runs until the count or the duration is reached, with
 * `concurrency` requests in flight. Only the runner's run call sits between the two clock reads of a sample;
 * memory is sampled after each run, outside that span, and outputs are not looked at here at all.
 */

export interface RunPlan {
  warmup: number;
  /** Timed runs; exactly one of runs and durationSeconds is set. */
  runs?: number;
  durationSeconds?: number;
  concurrency: number;
  /** Called after every warm-up and timed run with the number done so far (both phases counted together). */
  onProgress?: (done: number) => void;
}

export interface RunWindow {
  /** One latency per timed run, in milliseconds, in completion order. */
  latenciesMs: number[];
  /** Wall time from the first timed run's start to the last one's end. */
  wallMs: number;
  /** CPU time of the whole process (every thread: the runtime's pools too) over the timed window, in ms. */
  cpuMs: number;
  rss: { startBytes: number; endBytes: number; peakBytes: number };
}

export async function measureRuns<Prepared>(runner: ModelRunner<Prepared>, inputs: Prepared[], plan: RunPlan): Promise<RunWindow> {
  if (inputs.length === 0) throw new Error('measureRuns needs at least one input set');
  let done = 0;
  for (let warm = 0; warm < plan.warmup; warm++) {
    await runner.run(inputs[warm % inputs.length]!);
    plan.onProgress?.(++done);
  }

  const latenciesMs: number[] = [];
  const startRss = process.memoryUsage.rss();
  let peakRss = startRss;
  let issued = 0;
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const deadline = plan.durationSeconds === undefined ? Infinity : wallStart + plan.durationSeconds * 1000;
  const more = plan.runs === undefined ? () => issued === 0 || performance.now() < deadline : () => issued < plan.runs!;

  const worker = async () => {
    while (more()) {
      const input = inputs[issued++ % inputs.length]!;
      const start = performance.now();
      await runner.run(input);
      const end = performance.now();
      latenciesMs.push(end - start);
      const rss = process.memoryUsage.rss();
      if (rss > peakRss) peakRss = rss;
      plan.onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  const wallMs = performance.now() - wallStart;
  const cpu = process.cpuUsage(cpuStart);
  const endRss = process.memoryUsage.rss();
  return {
    latenciesMs,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rss: { startBytes: startRss, endBytes: endRss, peakBytes: Math.max(peakRss, endRss) },
  };
}
