/** 1.5 * 2^52: added to a double below 2^51 in magnitude, it leaves no bits for the fraction. */
const ROUNDING_MAGIC = 2 ** 52 + 2 ** 51;

/**
 * Round to nearest, halves to the even neighbour (2.5 -> 2, 3.5 -> 4): what NumPy's `round` (tfjs-converter)
 * and ONNX QuantizeLinear use, so codes match those tools exactly. The FPU's own rounding (to nearest, ties
 * to even) does the work, branch-free: about twice as fast as floor-and-compare on random weights.
 */
export function roundHalfToEven(value: number): number {
  return Math.abs(value) < 2 ** 51 ? value + ROUNDING_MAGIC - ROUNDING_MAGIC : value;
}
