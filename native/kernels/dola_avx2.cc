// AVX2 + FMA + F16C passes of the layer-selection kernel (dola.h, DolaOps). CMake compiles this file alone with
// -mavx2 -mfma -mf16c; dola_ops_for only hands the table out when the contrast dispatch chose AVX2 or AVX-512
// (which checked the CPU and OS support). Same ODR rule as ops_avx2.cc: an anonymous namespace and no call to a
// shared inline function. Tails (lengths not a multiple of 8) go through zero-padded copies or scalar code.
#include "dola.h"

#if defined(AC_HAVE_X86)

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace ac {
namespace dola {
namespace {

constexpr size_t kW = 8;
constexpr size_t kFlush = 1024;

#include "simd_avx2.inc"

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// --- the projection: NV head rows x NH hidden rows per micro-tile ---
template <class L, int NV, int NH>
inline void micro(const char* const* w, const float* const* h, size_t d, float* res) {
  __m256 acc[NV][NH];
  for (int a = 0; a < NV; ++a)
    for (int j = 0; j < NH; ++j) acc[a][j] = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + kW <= d; i += kW) {
    __m256 hv[NH];
    for (int j = 0; j < NH; ++j) hv[j] = _mm256_loadu_ps(h[j] + i);
    for (int a = 0; a < NV; ++a) {
      const __m256 wv = L::load(w[a], i);
      for (int j = 0; j < NH; ++j) acc[a][j] = _mm256_fmadd_ps(wv, hv[j], acc[a][j]);
    }
  }
  for (int a = 0; a < NV; ++a)
    for (int j = 0; j < NH; ++j) {
      float s = hsum(acc[a][j]);
      for (size_t t = i; t < d; ++t) s += L::one(w[a], t) * h[j][t];
      res[a * NH + j] = s;
    }
}

template <class L, int NV>
inline void rows_against_all(const char* const* w, size_t v, size_t d, const float* const* H, size_t nh,
                             float* const* out) {
  float res[NV * 2];
  size_t h = 0;
  for (; h + 2 <= nh; h += 2) {
    micro<L, NV, 2>(w, H + h, d, res);
    for (int a = 0; a < NV; ++a) {
      out[h][v + a] = res[a * 2];
      out[h + 1][v + a] = res[a * 2 + 1];
    }
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

template <Divergence K>
inline __m256 term(__m256 lp, __m256 p, __m256 lq, __m256 q) {
  const __m256 s = _mm256_add_ps(p, q);
  const __m256 live = _mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_GT_OQ);
  const __m256 lm = _mm256_sub_ps(log_ps(_mm256_blendv_ps(_mm256_set1_ps(1.0f), s, live)),
                                  _mm256_set1_ps(0.6931471805599453f));
  __m256 t;
  if (K == Divergence::kDolaCode) {
    t = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.25f), s), _mm256_sub_ps(_mm256_add_ps(lm, lm), _mm256_add_ps(lp, lq)));
  } else {
    t = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_fmadd_ps(p, _mm256_sub_ps(lp, lm), _mm256_mul_ps(q, _mm256_sub_ps(lq, lm))));
  }
  return _mm256_and_ps(t, live);
}

inline double term_scalar(double lp, double p, double lq, double q, Divergence kind) {
  const double s = p + q;
  if (!(s > 0.0)) return 0.0;
  const double lm = std::log(s) - 0.6931471805599453;
  return kind == Divergence::kDolaCode ? 0.25 * s * (2.0 * lm - lp - lq) : 0.5 * (p * (lp - lm) + q * (lq - lm));
}

template <Divergence K>
double divergence_t(const float* zf, float lse_f, const float* p, const float* zc, float lse_c, size_t V) {
  const __m256 vf = _mm256_set1_ps(lse_f), vc = _mm256_set1_ps(lse_c);
  double total = 0.0;
  size_t i = 0;
  for (size_t b = 0; b + kW <= V; b += kFlush) {
    const size_t end = V - b < kFlush ? V : b + kFlush;
    __m256 acc = _mm256_setzero_ps();
    for (i = b; i + kW <= end; i += kW) {
      const __m256 lp = _mm256_sub_ps(_mm256_loadu_ps(zf + i), vf);
      const __m256 lq = _mm256_sub_ps(_mm256_loadu_ps(zc + i), vc);
      acc = _mm256_add_ps(acc, term<K>(lp, _mm256_loadu_ps(p + i), lq, exp_ps(lq)));
    }
    total += hsum(acc);
    if (i < end) break;  // only the final block has a tail
  }
  for (; i < V; ++i) {
    const float lq = zc[i] - lse_c;
    total += term_scalar(zf[i] - lse_f, p[i], lq, std::exp(lq), K);
  }
  return total;
}

double divergence(const float* zf, float lse_f, const float* p, const float* zc, float lse_c, size_t V,
                  Divergence kind) {
  return kind == Divergence::kDolaCode ? divergence_t<Divergence::kDolaCode>(zf, lse_f, p, zc, lse_c, V)
                                       : divergence_t<Divergence::kJsd>(zf, lse_f, p, zc, lse_c, V);
}

void exp_shift(const float* z, float lse, size_t V, float* p) {
  const __m256 vl = _mm256_set1_ps(lse);
  size_t i = 0;
  for (; i + kW <= V; i += kW) _mm256_storeu_ps(p + i, exp_ps(_mm256_sub_ps(_mm256_loadu_ps(z + i), vl)));
  for (; i < V; ++i) p[i] = std::exp(z[i] - lse);
}

// 32 int8 values per scale: four 8-lane quarters, widened, converted and scaled (exact, see dola_avx512.cc).
void dequant_q8(const int8_t* q, const float* scale, size_t n, float* out) {
  for (size_t b = 0; b < n / 32; ++b) {
    const __m256 s = _mm256_set1_ps(scale[b]);
    for (size_t k = 0; k < 4; ++k) {
      const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + b * 32 + k * 8));
      _mm256_storeu_ps(out + b * 32 + k * 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw)), s));
    }
  }
}

const DolaOps kAvx2{"avx2", project, divergence, exp_shift, dequant_q8, nullptr};

}  // namespace

const DolaOps* dola_avx2_ops() { return &kAvx2; }

}  // namespace dola
}  // namespace ac

#else

namespace ac {
namespace dola {
const DolaOps* dola_avx2_ops() { return nullptr; }
}  // namespace dola
}  // namespace ac

#endif
