/**
 * IEEE 754 half precision <-> float32, on bit patterns. Half -> float is exact (every half is a float32),
 * so decoding matches tfjs's table-driven decoder bit for bit, NaN payloads included.
 */

const float32Bits = new Uint32Array(1);
const float32View = new Float32Array(float32Bits.buffer);

/**
 * The float32 bit pattern of a half's 16 bits. Working on bits keeps NaN payloads: a signalling NaN read
 * into a JS number may come back quieted.
 */
export function halfBitsToFloat32Bits(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >> 10) & 0x1f;
  let mantissa = half & 0x3ff;
  let bits: number;
  if (exponent === 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent !== 0) {
    bits = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
  } else if (mantissa === 0) {
    bits = sign;
  } else {
    // Subnormal half: shift the leading one into the implicit bit; every such value is a normal float32.
    let shifts = 0;
    while ((mantissa & 0x400) === 0) {
      mantissa <<= 1;
      shifts += 1;
    }
    bits = sign | ((1 - 15 - shifts + 127) << 23) | ((mantissa & 0x3ff) << 13);
  }
  return bits >>> 0;
}

/** The float32 value of a half's 16 bits. */
export function halfBitsToFloat(half: number): number {
  float32Bits[0] = halfBitsToFloat32Bits(half);
  return float32View[0]!;
}

/** Halves (as 16-bit codes) to float32 values, written as bit patterns. */
export function halvesToFloat32(halves: ArrayLike<number>): Float32Array {
  const bits = new Uint32Array(halves.length);
  for (let index = 0; index < halves.length; index++) bits[index] = halfBitsToFloat32Bits(halves[index]!);
  return new Float32Array(bits.buffer);
}

/** The nearest half (ties to even) to a number, as 16 bits; overflow gives infinity, NaN stays NaN. */
export function floatToHalfBits(value: number): number {
  float32View[0] = value;
  const bits = float32Bits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal or zero half: the implicit one becomes explicit and the value shifts right.
    if (halfExponent < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    return sign | roundShiftRightToEven(full, shift);
  }
  // Rounding may carry into the exponent, which correctly yields the next power of two or infinity.
  return sign | ((halfExponent << 10) + roundShiftRightToEven(mantissa, 13));
}

function roundShiftRightToEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const remainder = value - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  if (remainder > half || (remainder === half && (kept & 1) === 1)) return kept + 1;
  return kept;
}
