import type { EngineCandidate } from './engine-candidates.js';

export interface DevicePolicy {
  /** Shown in --help next to the choice. */
  summary: string;
  accepts(candidate: EngineCandidate): boolean;
}

/** The values of --device, and which engines each one may use (in the candidates' order). */
export const DEVICE_CHOICES = {
  auto: { summary: 'fastest engine that loads', accepts: () => true },
  gpu: { summary: 'tfjs-node-gpu with CUDA, or fail', accepts: (c) => c.device === 'gpu' },
  cpu: { summary: 'fastest CPU engine', accepts: (c) => c.device === 'cpu' },
} satisfies Record<string, DevicePolicy>;

export type DeviceChoice = keyof typeof DEVICE_CHOICES;

export const DEVICE_CHOICE_NAMES = Object.keys(DEVICE_CHOICES) as DeviceChoice[];
