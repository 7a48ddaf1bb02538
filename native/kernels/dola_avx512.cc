// AVX-512 (F/BW/VL/DQ) passes of the layer-selection kernel (dola.h, DolaOps). CMake compiles this file alone with
// the AVX-512 flags; dola_ops_for only hands the table out when the contrast dispatch chose AVX-512 (which checked
// the CPU and the OS's ZMM state). Same ODR rule as ops_avx512.cc: everything lives in an anonymous namespace and
// no shared inline function is called from here.
#include "dola.h"

#if defined(AC_HAVE_X86)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593, see ops_avx512.cc
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstdint>

namespace ac {
namespace dola {
namespace {

constexpr size_t kW = 16;
constexpr size_t kFlush = 1024;  // elements summed in float before the partial sum moves to double

#include "simd_avx512.inc"

// --- the projection: NV head rows x NH hidden rows per micro-tile, accumulators in registers ---
template <class L, int NV, int NH>
inline void micro(const char* const* w, const float* const* h, size_t d, float* res) {
  __m512 acc[NV][NH];
  for (int a = 0; a < NV; ++a)
    for (int j = 0; j < NH; ++j) acc[a][j] = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + kW <= d; i += kW) {
    __m512 hv[NH];
    for (int j = 0; j < NH; ++j) hv[j] = _mm512_loadu_ps(h[j] + i);
    for (int a = 0; a < NV; ++a) {
      const __m512 wv = L::load(w[a], i);
      for (int j = 0; j < NH; ++j) acc[a][j] = _mm512_fmadd_ps(wv, hv[j], acc[a][j]);
    }
  }
  if (i < d) {
    const __mmask16 k = tail_mask(d - i);
    __m512 hv[NH];
    for (int j = 0; j < NH; ++j) hv[j] = _mm512_maskz_loadu_ps(k, h[j] + i);
    for (int a = 0; a < NV; ++a) {
      const __m512 wv = L::load(w[a], i, k);
      for (int j = 0; j < NH; ++j) acc[a][j] = _mm512_fmadd_ps(wv, hv[j], acc[a][j]);
    }
  }
  for (int a = 0; a < NV; ++a)
    for (int j = 0; j < NH; ++j) res[a * NH + j] = _mm512_reduce_add_ps(acc[a][j]);
}

template <class L, int NV>
inline void rows_against_all(const char* const* w, size_t v, size_t d, const float* const* H, size_t nh,
                             float* const* out) {
  float res[NV * 4];
  size_t h = 0;
  for (; h + 4 <= nh; h += 4) {
    micro<L, NV, 4>(w, H + h, d, res);
    for (int a = 0; a < NV; ++a)
      for (int j = 0; j < 4; ++j) out[h + j][v + a] = res[a * 4 + j];
  }
  for (; h < nh; ++h) {
    micro<L, NV, 1>(w, H + h, d, res);
    for (int a = 0; a < NV; ++a) out[h][v + a] = res[a];
  }
}

template <class L>
void project_t(const void* W, size_t v0, size_t nv, size_t d, const float* const* H, size_t nh, float* const* out) {
  const char* base = static_cast<const char*>(W);
  const size_t row = d * L::kSize;
  size_t v = v0;
  for (; v + 4 <= v0 + nv; v += 4) {
    const char* r0 = base + (v - v0) * row;
    const char* w[4] = {r0, r0 + row, r0 + 2 * row, r0 + 3 * row};
    rows_against_all<L, 4>(w, v, d, H, nh, out);
  }
  for (; v < v0 + nv; ++v) {
    const char* w[1] = {base + (v - v0) * row};
    rows_against_all<L, 1>(w, v, d, H, nh, out);
  }
}

void project(const void* W, DType wdt, size_t v0, size_t nv, size_t d, const float* const* H, size_t nh,
             float* const* out) {
  switch (wdt) {
    case DType::F32: return project_t<LoadF32>(W, v0, nv, d, H, nh, out);
    case DType::F16: return project_t<LoadF16>(W, v0, nv, d, H, nh, out);
    case DType::BF16: return project_t<LoadBF16>(W, v0, nv, d, H, nh, out);
  }
}

inline double hsum_pd(__m512d v) { return _mm512_reduce_add_pd(v); }
inline __m512d widen_add(__m512d acc, __m512 v) {
  acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
  return _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

template <Divergence K>
inline __m512 term(__m512 lp, __m512 p, __m512 lq, __m512 q, __mmask16 valid) {
  const __m512 s = _mm512_add_ps(p, q);
  const __mmask16 live = _mm512_mask_cmp_ps_mask(valid, s, _mm512_setzero_ps(), _CMP_GT_OQ);
  const __m512 lm = _mm512_sub_ps(log_ps(_mm512_mask_blend_ps(live, _mm512_set1_ps(1.0f), s)),
                                  _mm512_set1_ps(0.6931471805599453f));
  __m512 t;
  if (K == Divergence::kDolaCode) {
    t = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.25f), s),
                      _mm512_sub_ps(_mm512_add_ps(lm, lm), _mm512_add_ps(lp, lq)));
  } else {
    t = _mm512_mul_ps(_mm512_set1_ps(0.5f),
                      _mm512_fmadd_ps(p, _mm512_sub_ps(lp, lm), _mm512_mul_ps(q, _mm512_sub_ps(lq, lm))));
  }
  return _mm512_maskz_mov_ps(live, t);
}

template <Divergence K>
double divergence_t(const float* zf, float lse_f, const float* p, const float* zc, float lse_c, size_t V) {
  const __m512 vf = _mm512_set1_ps(lse_f), vc = _mm512_set1_ps(lse_c);
  __m512d total = _mm512_setzero_pd();
  for (size_t b = 0; b < V; b += kFlush) {
    const size_t end = V - b < kFlush ? V : b + kFlush;
    __m512 acc = _mm512_setzero_ps();
    size_t i = b;
    for (; i + kW <= end; i += kW) {
      const __m512 lp = _mm512_sub_ps(_mm512_loadu_ps(zf + i), vf);
      const __m512 lq = _mm512_sub_ps(_mm512_loadu_ps(zc + i), vc);
      acc = _mm512_add_ps(acc, term<K>(lp, _mm512_loadu_ps(p + i), lq, exp_ps(lq), 0xFFFF));
    }
    if (i < end) {
      const __mmask16 k = tail_mask(end - i);
      const __m512 lp = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, zf + i), vf);
      const __m512 lq = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, zc + i), vc);
      acc = _mm512_add_ps(acc, term<K>(lp, _mm512_maskz_loadu_ps(k, p + i), lq, exp_ps(lq), k));
    }
    total = widen_add(total, acc);
  }
  return hsum_pd(total);
}

double divergence(const float* zf, float lse_f, const float* p, const float* zc, float lse_c, size_t V,
                  Divergence kind) {
  return kind == Divergence::kDolaCode ? divergence_t<Divergence::kDolaCode>(zf, lse_f, p, zc, lse_c, V)
                                       : divergence_t<Divergence::kJsd>(zf, lse_f, p, zc, lse_c, V);
}

void exp_shift(const float* z, float lse, size_t V, float* p) {
  const __m512 vl = _mm512_set1_ps(lse);
  size_t i = 0;
  for (; i + kW <= V; i += kW) _mm512_storeu_ps(p + i, exp_ps(_mm512_sub_ps(_mm512_loadu_ps(z + i), vl)));
  if (i < V) {
    const __mmask16 k = tail_mask(V - i);
    _mm512_mask_storeu_ps(p + i, k, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, z + i), vl)));
  }
}

// 32 int8 values per scale: two 16-lane halves, each widened, converted and scaled (exact: an int8 times a float
// that came from a float16 scale needs at most 19 significant bits).
void dequant_q8(const int8_t* q, const float* scale, size_t n, float* out) {
  for (size_t b = 0; b < n / 32; ++b) {
    const __m512 s = _mm512_set1_ps(scale[b]);
    for (size_t h = 0; h < 2; ++h) {
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + b * 32 + h * 16));
      _mm512_storeu_ps(out + b * 32 + h * 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(raw)), s));
    }
  }
}

const DolaOps kAvx512{"avx512", project, divergence, exp_shift, dequant_q8};

}  // namespace

const DolaOps* dola_avx512_ops() { return &kAvx512; }

}  // namespace dola
}  // namespace ac

#else

namespace ac {
namespace dola {
const DolaOps* dola_avx512_ops() { return nullptr; }
}  // namespace dola
}  // namespace ac

#endif
