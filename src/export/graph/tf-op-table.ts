import type { TfOpConverter } from './op-conversion.js';
import { ACTIVATION_OPS } from './ops/activations.js';
import { CONVOLUTION_OPS } from './ops/convolution.js';
import { ELEMENTWISE_OPS } from './ops/elementwise.js';
import { GATHERING_OPS } from './ops/gathering.js';
import { JOINING_OPS } from './ops/joining.js';
import { MATMUL_OPS } from './ops/matmul.js';
import { NON_MAX_SUPPRESSION_OPS } from './ops/non-max-suppression.js';
import { NORMALIZATION_OPS } from './ops/normalization.js';
import { PADDING_OPS } from './ops/padding.js';
import { PASS_THROUGH_OPS } from './ops/pass-through.js';
import { POOLING_OPS } from './ops/pooling.js';
import { REDUCTION_OPS } from './ops/reductions.js';
import { RESHAPING_OPS } from './ops/reshaping.js';
import { RESIZING_OPS } from './ops/resizing.js';
import { SLICING_OPS } from './ops/slicing.js';
import { TENSOR_CREATION_OPS } from './ops/tensor-creation.js';
import { TOP_K_OPS } from './ops/top-k.js';

/**
 * Every TF op the GraphModel converter handles, keyed by op name; one family per file in ops/. Placeholder
 * and Const are not here: the walker turns them into graph inputs and initializers.
 */
export const TF_OP_CONVERTERS: Readonly<Record<string, TfOpConverter>> = {
  ...CONVOLUTION_OPS,
  ...POOLING_OPS,
  ...RESIZING_OPS,
  ...MATMUL_OPS,
  ...NORMALIZATION_OPS,
  ...ACTIVATION_OPS,
  ...ELEMENTWISE_OPS,
  ...REDUCTION_OPS,
  ...RESHAPING_OPS,
  ...JOINING_OPS,
  ...SLICING_OPS,
  ...GATHERING_OPS,
  ...TOP_K_OPS,
  ...NON_MAX_SUPPRESSION_OPS,
  ...PADDING_OPS,
  ...TENSOR_CREATION_OPS,
  ...PASS_THROUGH_OPS,
};
