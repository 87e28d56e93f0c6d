import { ACTIVATION_LAYERS } from './activation-layers.js';
import { DENSE_CONV_LAYERS } from './dense-conv-layers.js';
import { EMBEDDING_LAYERS } from './embedding-layer.js';
import type { LayerConverter } from './layer-converter.js';
import { MERGE_LAYERS } from './merge-layers.js';
import { NORMALIZATION_LAYERS } from './normalization-layers.js';
import { POOLING_LAYERS } from './pooling-layers.js';
import { RECURRENT_LAYERS } from './recurrent-layers.js';
import { RESAMPLING_LAYERS } from './resampling-layers.js';
import { RESHAPE_LAYERS } from './reshape-layers.js';
import { WRAPPER_LAYERS } from './time-distributed-layer.js';

/** Every Keras layer class the LayersModel converter exports, keyed by class name; one family per file. */
export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  ...DENSE_CONV_LAYERS,
  ...NORMALIZATION_LAYERS,
  ...ACTIVATION_LAYERS,
  ...POOLING_LAYERS,
  ...RESHAPE_LAYERS,
  ...MERGE_LAYERS,
  ...RESAMPLING_LAYERS,
  ...EMBEDDING_LAYERS,
  ...RECURRENT_LAYERS,
  ...WRAPPER_LAYERS,
};
