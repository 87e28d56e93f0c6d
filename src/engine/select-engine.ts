import { ModelpressError, messageOf } from '../errors.js';
import { silentLogger, type Logger } from '../terminal/logger.js';
import { DEVICE_CHOICES, type DeviceChoice } from './device-choice.js';
import { ENGINE_CANDIDATES, type EngineCandidate } from './engine-candidates.js';
import type { TensorEngine } from './tensor-engine.js';

export interface SelectEngineOptions {
  log?: Logger;
  /** The table to choose from; tests pass fakes to exercise fallbacks that this machine cannot show. */
  candidates?: readonly EngineCandidate[];
}

/** Load the first engine `device` accepts that starts; the reason each earlier one was skipped goes to debug. */
export async function selectEngine(device: DeviceChoice, options: SelectEngineOptions = {}): Promise<TensorEngine> {
  const log = options.log ?? silentLogger;
  const allowed = (options.candidates ?? ENGINE_CANDIDATES).filter((candidate) => DEVICE_CHOICES[device].accepts(candidate));
  const failures: Array<{ candidate: EngineCandidate; reason: string }> = [];
  for (const candidate of allowed) {
    try {
      const tf = await candidate.load({ libraryWarnings: log.debugEnabled });
      const engine: TensorEngine = { name: candidate.name, backend: tf.getBackend(), device: candidate.device, tf };
      log.debug(`engine: ${engine.name} (tfjs backend ${engine.backend}, ${engine.device}) for --device ${device}`);
      return engine;
    } catch (error) {
      const reason = loadFailureReason(error);
      failures.push({ candidate, reason });
      log.debug(`engine ${candidate.name} unavailable: ${reason}`);
    }
  }
  throw noEngineError(device, failures);
}

/** Start-up picks the device; the engine itself loads on first use, because most commands never need one. */
export function lazyEngine(device: DeviceChoice, options: SelectEngineOptions = {}): () => Promise<TensorEngine> {
  let pending: Promise<TensorEngine> | undefined;
  return () => (pending ??= selectEngine(device, options));
}

// Node's "Cannot find package 'x' imported from /long/path/file.js" says more than a user needs.
function loadFailureReason(error: unknown): string {
  if ((error as { code?: unknown })?.code === 'ERR_MODULE_NOT_FOUND') return 'not installed';
  return messageOf(error).split('\n')[0];
}

function noEngineError(device: DeviceChoice, failures: Array<{ candidate: EngineCandidate; reason: string }>): ModelpressError {
  if (device === 'gpu') {
    const gpu = failures[0];
    const name = gpu?.candidate.packageName ?? 'a GPU engine';
    const hint = gpu?.candidate.installHint ? `; ${gpu.candidate.installHint}` : '';
    return new ModelpressError(
      `--device gpu needs ${name}, which could not be loaded (${gpu?.reason ?? 'none configured'})${hint}, or use --device cpu`,
    );
  }
  const tried = failures.map(({ candidate, reason }) => `${candidate.name}: ${reason}`).join('; ');
  return new ModelpressError(`no tensor engine could be loaded for --device ${device} (${tried || 'none configured'})`);
}
