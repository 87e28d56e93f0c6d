import type { KerasLayer } from '../../tfjs/layers-topology.js';
import type { OnnxGraphEmitter } from '../onnx-emitter.js';
import type { LayerWeights } from './layer-weights.js';

/** A dimension as Keras knows it statically: a size, or null where the model leaves it open. */
export type Dim = number | null;

/** A Keras tensor once emitted: its ONNX value name and its static shape, batch dimension first. */
export interface KerasValue {
  name: string;
  shape: Dim[];
}

/** What a layer converter gets for one call of one layer. */
export interface LayerEmitContext {
  emitter: OnnxGraphEmitter;
  opset: number;
  className: string;
  /** The layer's name, used as the hint for every node and value it emits. */
  name: string;
  config: Record<string, unknown>;
  weights: LayerWeights;
  /**
   * A float initializer made once per layer and reused by every call of it, so a shared layer's weights
   * are stored once however often it is applied.
   */
  constant(key: string, dims: number[], build: () => Float32Array): string;
  /** Emit a wrapped layer (TimeDistributed's) through the layer table, with these weights. */
  convertInner(layer: KerasLayer, inputs: KerasValue[], weights: LayerWeights): KerasValue[];
}

/** One construct a converter cannot export, found before anything is emitted. */
export interface UnsupportedSetting {
  kind: 'attribute' | 'activation' | 'layer';
  name: string;
  detail?: string;
}

/** A row of the layer table: how one Keras class becomes ONNX nodes. */
export interface LayerConverter {
  convert(layer: LayerEmitContext, inputs: KerasValue[]): KerasValue[];
  /** Settings of this layer (or the layer it wraps) the converter cannot export; empty when it can. */
  unsupported?(config: Record<string, unknown>, checkInner: (layer: KerasLayer) => UnsupportedSetting[]): UnsupportedSetting[];
}

export function configNumber(config: Record<string, unknown>, key: string, fallback: number): number {
  const value = config[key];
  return typeof value === 'number' ? value : fallback;
}

export function configBoolean(config: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = config[key];
  return typeof value === 'boolean' ? value : fallback;
}

/** Keras writes sizes as one number or one per spatial axis. */
export function configTuple(config: Record<string, unknown>, key: string, rank: number, fallback: number): number[] {
  const value = config[key];
  if (Array.isArray(value)) return value.map(Number);
  return Array.from({ length: rank }, () => (typeof value === 'number' ? value : fallback));
}

/** A Keras axis (negative counts from the end) as a non-negative index into a rank-`rank` tensor. */
export function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function channelsFirstSetting(config: Record<string, unknown>): UnsupportedSetting[] {
  const format = config.data_format;
  return format === undefined || format === null || format === 'channels_last'
    ? []
    : [{ kind: 'attribute', name: 'data_format', detail: `${String(format)} (only channels_last)` }];
}
