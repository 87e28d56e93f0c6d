import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DeviceChoice } from '../engine/device-choice.js';
import type { RunnerOptions } from '../runners/model-runner.js';
import type { ProgressBar, ProgressFactory } from '../terminal/progress.js';
import type { ChildMessage, ChildRequest } from './measure-model-child.js';
import type { MeasurementProgress, ModelMeasurement, ModelMeasurementSpec } from './measure-model.js';

/** The progress bars of a measurement, drawn by the command's progress factory (on a terminal only). */
export function barProgress(progress: ProgressFactory): MeasurementProgress {
  let bar: ProgressBar | undefined;
  return {
    start: (label, units) => (bar = progress(label, units)),
    update: (done) => bar?.update(done),
    stop: () => {
      bar?.stop();
      bar = undefined;
    },
  };
}

const childScript = fileURLToPath(new URL('./measure-model-child.js', import.meta.url));

/** measureModel in a fresh process; a crash there (a native abort, running out of memory) fails only this model. */
export function measureInChild(spec: ModelMeasurementSpec, options: RunnerOptions, device: DeviceChoice, progressFactory: ProgressFactory): Promise<ModelMeasurement> {
  // The engine function stays here: the child selects its own engine for the same --device.
  const { engine: _engine, ...runner } = options;
  const childRequest: ChildRequest = { spec, runner, device };
  const progress = barProgress(progressFactory);
  return new Promise((resolve) => {
    const child = fork(childScript, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let result: ModelMeasurement | undefined;
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('message', (message: ChildMessage) => {
      if (message.kind === 'start') progress.start(message.label, message.units);
      else if (message.kind === 'update') progress.update(message.done);
      else if (message.kind === 'stop') progress.stop();
      else result = message.result;
    });
    const fail = (reason: string): ModelMeasurement => ({
      sessionCreateMs: null,
      memory: { rssBeforeLoadBytes: null, loadBytes: null, footprintBytes: null, peakRssBytes: null, gpuMemoryBytes: null },
      measurements: [],
      error: reason,
    });
    child.on('error', (error) => resolve(fail(`cannot start the measuring process: ${error.message}`)));
    child.on('exit', (code, signal) => {
      progress.stop();
      if (result) return resolve(result);
      const lastLine = stderr.trim().split('\n').at(-1);
      resolve(fail(`the measuring process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${lastLine ? `: ${lastLine}` : ''}`));
    });
    child.send(childRequest);
  });
}
