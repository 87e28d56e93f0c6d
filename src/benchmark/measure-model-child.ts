import { lazyEngine } from '../engine/select-engine.js';
import type { DeviceChoice } from '../engine/device-choice.js';
import type { RunnerOptions } from '../runners/model-runner.js';
import { measureModel, type ModelMeasurementSpec } from './measure-model.js';

/**
 * Entry point of the process that measures one model (forked by run-benchmark.ts with advanced IPC
 * serialization, so typed arrays arrive intact). It receives one ChildRequest, reports progress, sends
 * one ChildReply and exits.
 */
export interface ChildRequest {
  spec: ModelMeasurementSpec;
  runner: Omit<RunnerOptions, 'engine'>;
  device: DeviceChoice;
}

export type ChildMessage =
  | { kind: 'start'; label: string; units: number }
  | { kind: 'update'; done: number }
  | { kind: 'stop' }
  | { kind: 'result'; result: Awaited<ReturnType<typeof measureModel>> };

const PROGRESS_INTERVAL_MS = 100;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));
}

process.once('message', async (request: ChildRequest) => {
  const options: RunnerOptions = { ...request.runner, engine: lazyEngine(request.device) };
  // Progress goes out without waiting for delivery and at most every PROGRESS_INTERVAL_MS: the timed loop
  // must not block on IPC, and a bar redraws no faster anyway.
  let lastUpdate = 0;
  const result = await measureModel(request.spec, options, {
    start: (label, units) => void process.send!({ kind: 'start', label, units } satisfies ChildMessage),
    update: (done) => {
      const now = performance.now();
      if (now - lastUpdate < PROGRESS_INTERVAL_MS) return;
      lastUpdate = now;
      process.send!({ kind: 'update', done } satisfies ChildMessage);
    },
    stop: () => void process.send!({ kind: 'stop' } satisfies ChildMessage),
  });
  await send({ kind: 'result', result });
  process.disconnect();
});
