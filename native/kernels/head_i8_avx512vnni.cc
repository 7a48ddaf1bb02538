// AVX-512 VNNI int8 head product (head_i8.h). CMake compiles this file alone with the AVX-512 + VNNI flags;
// i8_ops_for hands it out only when the contrast dispatch chose AVX-512 and CPUID reports AVX512_VNNI. Everything
// lives in an anonymous namespace and no inline function shared with other files is called (see ops_avx512.cc).
//
// Micro-tile: 2 packed tiles (32 head rows) x up to 4 hidden rows. Per group of 4 values: two 64-byte loads of
// head codes (16 rows x 4 unsigned bytes each) and one 4-byte broadcast per hidden row, then vpdpbusd adds the
// 4-value dot products into one int32 lane per head row. The accumulators start at -128 x the block's code sum of
// the hidden row, which takes back the +128 the head's unsigned codes carry, so each block ends with the exact
// integer sum of q x x before it is scaled (the same float steps as the scalar path).
#include "head_i8.h"

#if defined(AC_HAVE_X86)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593 (_mm512_undefined_*), see ops_avx512.cc
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstring>

namespace ac {
namespace i8 {
namespace {

template <int NH>
void micro(const uint8_t* c0, const uint8_t* c1, const float* s0, const float* s1, size_t nb, const Acts& a,
           size_t h0, __m512 (&res)[2][4]) {
  __m512 acc[2][NH];
  for (int j = 0; j < NH; ++j) acc[0][j] = acc[1][j] = _mm512_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    __m512i ai[2][NH];
    for (int j = 0; j < NH; ++j) ai[0][j] = ai[1][j] = _mm512_set1_epi32(-128 * a.sum[h0 + j][b]);
    const uint8_t* w0 = c0 + b * (kBlock / kGroup) * 64;
    const uint8_t* w1 = c1 + b * (kBlock / kGroup) * 64;
    for (size_t g = 0; g < kBlock / kGroup; ++g) {
      const __m512i v0 = _mm512_loadu_si512(w0 + g * 64);
      const __m512i v1 = _mm512_loadu_si512(w1 + g * 64);
      for (int j = 0; j < NH; ++j) {
        int32_t x4;
        std::memcpy(&x4, a.q[h0 + j] + b * kBlock + g * kGroup, 4);
        const __m512i xb = _mm512_set1_epi32(x4);
        ai[0][j] = _mm512_dpbusd_epi32(ai[0][j], v0, xb);
        ai[1][j] = _mm512_dpbusd_epi32(ai[1][j], v1, xb);
      }
    }
    const __m512 ws0 = _mm512_loadu_ps(s0 + b * kTileRows), ws1 = _mm512_loadu_ps(s1 + b * kTileRows);
    for (int j = 0; j < NH; ++j) {
      const __m512 t = _mm512_set1_ps(a.scale[h0 + j][b]);
      acc[0][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai[0][j]), _mm512_mul_ps(ws0, t), acc[0][j]);
      acc[1][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai[1][j]), _mm512_mul_ps(ws1, t), acc[1][j]);
    }
  }
  for (int j = 0; j < NH; ++j) {
    res[0][j] = acc[0][j];
    res[1][j] = acc[1][j];
  }
}

void store(const __m512& v, size_t row0, size_t rows, float* out) {
  if (row0 + kTileRows <= rows) {
    _mm512_storeu_ps(out + row0, v);
  } else if (row0 < rows) {
    _mm512_mask_storeu_ps(out + row0, static_cast<__mmask16>((1u << (rows - row0)) - 1u), v);
  }
}

void project(const Head& w, size_t t0, size_t t1, const Acts& a, size_t nh, float* const* out) {
  const size_t d = w.d, nb = d / kBlock;
  for (size_t t = t0; t < t1; t += 2) {
    const bool pair = t + 1 < t1;
    const uint8_t* c0 = w.codes + t * d * kTileRows;
    const uint8_t* c1 = pair ? c0 + d * kTileRows : c0;  // a lone last tile is computed twice, stored once
    const float* s0 = w.scales + t * nb * kTileRows;
    const float* s1 = pair ? s0 + nb * kTileRows : s0;
    for (size_t h = 0; h < nh; h += 4) {
      __m512 res[2][4];
      switch (nh - h < 4 ? nh - h : 4) {
        case 1: micro<1>(c0, c1, s0, s1, nb, a, h, res); break;
        case 2: micro<2>(c0, c1, s0, s1, nb, a, h, res); break;
        case 3: micro<3>(c0, c1, s0, s1, nb, a, h, res); break;
        default: micro<4>(c0, c1, s0, s1, nb, a, h, res); break;
      }
      for (size_t j = 0; j < 4 && h + j < nh; ++j) {
        store(res[0][j], t * kTileRows, w.rows, out[h + j]);
        if (pair) store(res[1][j], (t + 1) * kTileRows, w.rows, out[h + j]);
      }
    }
  }
}

const I8Ops kVnni{"avx512vnni", project};

}  // namespace

const I8Ops* i8_avx512vnni_ops() { return &kVnni; }

}  // namespace i8
}  // namespace ac

#else

namespace ac {
namespace i8 {
const I8Ops* i8_avx512vnni_ops() { return nullptr; }
}  // namespace i8
}  // namespace ac

#endif
