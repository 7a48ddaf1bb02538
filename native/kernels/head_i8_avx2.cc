// AVX2 int8 head product (head_i8.h), for CPUs without AVX-512 VNNI. CMake compiles this file alone with the AVX2
// flags; same ODR rule as ops_avx2.cc. (The VEX-encoded AVX-VNNI form of vpdpbusd is not built: the machines this
// project is measured on cannot run it, so it could not be tested.)
//
// Micro-tile: 1 packed tile (16 head rows, two 8-row halves) x up to 2 hidden rows. The head's codes are turned
// back into signed bytes (xor 0x80), then vpmaddubsw multiplies |q| by x with q's sign (|q| <= 128, |x| <= 127: a
// pair sums to at most 2 x 128 x 127 = 32512, below the int16 saturation) and vpmaddwd by ones finishes each row's
// 4-value sum in an int32 lane. Integer sums are exact, so the block sums equal the scalar path's and the float steps
// after them are the same.
#include "head_i8.h"

#if defined(AC_HAVE_X86)

#include <immintrin.h>

#include <cstring>

namespace ac {
namespace i8 {
namespace {

template <int NH>
void micro(const uint8_t* c, const float* s, size_t nb, const Acts& a, size_t h0, __m256 (&res)[2][2]) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[2][NH];
  for (int j = 0; j < NH; ++j) acc[0][j] = acc[1][j] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    __m256i ai[2][NH];
    for (int j = 0; j < NH; ++j) ai[0][j] = ai[1][j] = _mm256_setzero_si256();
    const uint8_t* w = c + b * (kBlock / kGroup) * 64;
    for (size_t g = 0; g < kBlock / kGroup; ++g) {
      const __m256i q0 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + g * 64)), flip);
      const __m256i q1 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + g * 64 + 32)), flip);
      const __m256i m0 = _mm256_abs_epi8(q0), m1 = _mm256_abs_epi8(q1);
      for (int j = 0; j < NH; ++j) {
        int32_t x4;
        std::memcpy(&x4, a.q[h0 + j] + b * kBlock + g * kGroup, 4);
        const __m256i xb = _mm256_set1_epi32(x4);
        ai[0][j] = _mm256_add_epi32(ai[0][j], _mm256_madd_epi16(_mm256_maddubs_epi16(m0, _mm256_sign_epi8(xb, q0)), ones));
        ai[1][j] = _mm256_add_epi32(ai[1][j], _mm256_madd_epi16(_mm256_maddubs_epi16(m1, _mm256_sign_epi8(xb, q1)), ones));
      }
    }
    const __m256 ws0 = _mm256_loadu_ps(s + b * kTileRows), ws1 = _mm256_loadu_ps(s + b * kTileRows + 8);
    for (int j = 0; j < NH; ++j) {
      const __m256 t = _mm256_set1_ps(a.scale[h0 + j][b]);
      acc[0][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ai[0][j]), _mm256_mul_ps(ws0, t), acc[0][j]);
      acc[1][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ai[1][j]), _mm256_mul_ps(ws1, t), acc[1][j]);
    }
  }
  for (int j = 0; j < NH; ++j) {
    res[0][j] = acc[0][j];
    res[1][j] = acc[1][j];
  }
}

void project(const Head& w, size_t t0, size_t t1, const Acts& a, size_t nh, float* const* out) {
  const size_t d = w.d, nb = d / kBlock;
  for (size_t t = t0; t < t1; ++t) {
    const uint8_t* c = w.codes + t * d * kTileRows;
    const float* s = w.scales + t * nb * kTileRows;
    const size_t row0 = t * kTileRows;
    for (size_t h = 0; h < nh; h += 2) {
      __m256 res[2][2];
      if (nh - h >= 2) micro<2>(c, s, nb, a, h, res);
      else micro<1>(c, s, nb, a, h, res);
      for (size_t j = 0; j < 2 && h + j < nh; ++j) {
        if (row0 + kTileRows <= w.rows) {
          _mm256_storeu_ps(out[h + j] + row0, res[0][j]);
          _mm256_storeu_ps(out[h + j] + row0 + 8, res[1][j]);
        } else {
          alignas(32) float tmp[16];
          _mm256_store_ps(tmp, res[0][j]);
          _mm256_store_ps(tmp + 8, res[1][j]);
          for (size_t r = 0; row0 + r < w.rows; ++r) out[h + j][row0 + r] = tmp[r];
        }
      }
    }
  }
}

const I8Ops kAvx2{"avx2", project};

}  // namespace

const I8Ops* i8_avx2_ops() { return &kAvx2; }

}  // namespace i8
}  // namespace ac

#else

namespace ac {
namespace i8 {
const I8Ops* i8_avx2_ops() { return nullptr; }
}  // namespace i8
}  // namespace ac

#endif
