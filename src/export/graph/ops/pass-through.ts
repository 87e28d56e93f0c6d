import type { TfOpConverter } from '../op-conversion.js';

/**
 * Ops that hand their input on unchanged at inference (Identity and friends), so they emit nothing. A
 * PlaceholderWithDefault that is not one of the model's inputs is its default.
 */
const passThrough: TfOpConverter = (op) => [op.input(0)];

export const PASS_THROUGH_OPS: Record<string, TfOpConverter> = {
  Identity: passThrough,
  Snapshot: passThrough,
  StopGradient: passThrough,
  EnsureShape: passThrough,
  PlaceholderWithDefault: passThrough,
  IdentityN: (op) => op.inputs,
  NoOp: () => [],
};
