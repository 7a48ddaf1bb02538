// Scalar conversions of IEEE half (binary16) and bfloat16 bit patterns to float.
// Used by the scalar path and by SIMD tails; exact for every input (subnormals, inf, NaN).
#pragma once
#include <cstdint>
#include <cstring>

namespace ac {

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bf16_to_float(uint16_t h) { return bits_to_float(static_cast<uint32_t>(h) << 16); }

inline float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    if (man == 0) return bits_to_float(sign);
    // Subnormal half: value = man * 2^-24, exactly representable in float.
    const float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return bits_to_float(sign | 0x7f800000u | (man << 13));
  return bits_to_float(sign | ((exp + 112u) << 23) | (man << 13));
}

// Round-to-nearest-even float -> half / bfloat16 (used by tests and the bench to make inputs).
inline uint16_t float_to_bf16(float f) {
  uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline uint16_t float_to_f16(float f) {
  const uint32_t u = float_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow (incl. rounding) -> inf
  if (a < 0x38800000u) {
    // Result is subnormal or zero: round a * 2^24 to nearest even integer.
    const float v = bits_to_float(a) * 16777216.0f;  // exact scaling
    const float fl = static_cast<float>(static_cast<uint32_t>(v));
    const float diff = v - fl;
    uint32_t n = static_cast<uint32_t>(fl);
    if (diff > 0.5f || (diff == 0.5f && (n & 1u))) ++n;
    return static_cast<uint16_t>(sign | n);
  }
  uint32_t m = a + 0xfffu + ((a >> 13) & 1u);  // round mantissa to 10 bits, nearest even
  m -= 0x38000000u;                            // rebias exponent 127 -> 15
  return static_cast<uint16_t>(sign | (m >> 13));
}

}  // namespace ac
