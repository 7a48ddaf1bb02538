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

// --- the projection: 4 head rows x 4 hidden rows per micro-tile, accumulators in registers ---
// Each of the 16 dot products is accumulated over d in one register, in the same order whatever the head's
// storage (float32 rows are read in place; float16 / bfloat16 / int8-block rows are widened into a float32 copy
// of 4 rows first, L1-sized, and reused for every hidden row), so an int8-block head that reproduces a float32
// head exactly gives bit-identical logits.

// Lane m of the result = the sum of the 16 lanes of r[m] (a transposing add tree: 45 shuffles and adds for 16
// sums, instead of 16 separate reductions).
inline __m512 sum16(const __m512* r) {
  __m512 t[8];
  for (int i = 0; i < 8; ++i)
    t[i] = _mm512_add_ps(_mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]), _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]));
  __m512 s[4];
  for (int i = 0; i < 4; ++i)
    s[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 m01 = _mm512_add_ps(_mm512_shuffle_f32x4(s[0], s[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(s[0], s[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 m23 = _mm512_add_ps(_mm512_shuffle_f32x4(s[2], s[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(s[2], s[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(m01, m23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(m01, m23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// res[a * 4 + j] = dot(w[a], h[j]) over d floats.
inline void tile44(const float* const* w, const float* const* h, size_t d, float* res) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + kW <= d; i += kW) {
    const __m512 h0 = _mm512_loadu_ps(h[0] + i), h1 = _mm512_loadu_ps(h[1] + i), h2 = _mm512_loadu_ps(h[2] + i),
                 h3 = _mm512_loadu_ps(h[3] + i);
    for (int a = 0; a < 4; ++a) {
      const __m512 wv = _mm512_loadu_ps(w[a] + i);
      acc[a * 4 + 0] = _mm512_fmadd_ps(wv, h0, acc[a * 4 + 0]);
      acc[a * 4 + 1] = _mm512_fmadd_ps(wv, h1, acc[a * 4 + 1]);
      acc[a * 4 + 2] = _mm512_fmadd_ps(wv, h2, acc[a * 4 + 2]);
      acc[a * 4 + 3] = _mm512_fmadd_ps(wv, h3, acc[a * 4 + 3]);
    }
  }
  if (i < d) {
    const __mmask16 k = tail_mask(d - i);
    __m512 hv[4];
    for (int j = 0; j < 4; ++j) hv[j] = _mm512_maskz_loadu_ps(k, h[j] + i);
    for (int a = 0; a < 4; ++a) {
      const __m512 wv = _mm512_maskz_loadu_ps(k, w[a] + i);
      for (int j = 0; j < 4; ++j) acc[a * 4 + j] = _mm512_fmadd_ps(wv, hv[j], acc[a * 4 + j]);
    }
  }
  _mm512_storeu_ps(res, sum16(acc));
}

// nw <= 4 float head rows wr[a] (head rows v .. v + nw - 1) against every hidden row. Short tiles repeat their
// last row (computed, not stored).
inline void rows_x_hidden(const float* const* wr, size_t nw, size_t v, size_t d, const float* const* H, size_t nh,
                          float* const* out) {
  const float* w[4];
  for (size_t a = 0; a < 4; ++a) w[a] = wr[a < nw ? a : nw - 1];
  alignas(64) float res[16];
  for (size_t h = 0; h < nh; h += 4) {
    const size_t nj = nh - h < 4 ? nh - h : 4;
    const float* hp[4];
    for (size_t j = 0; j < 4; ++j) hp[j] = H[h + (j < nj ? j : nj - 1)];
    tile44(w, hp, d, res);
    for (size_t j = 0; j < nj; ++j) {
      float* o = out[h + j] + v;
      for (size_t a = 0; a < nw; ++a) o[a] = res[a * 4 + j];
    }
  }
}

// A float32 copy of 4 head rows, per thread. Plain new[] / delete[] (library functions) rather than a standard
// container, whose inline members would be shared with the files compiled without AVX-512 (the ODR rule above).
struct WidenBuffer {
  float* p = nullptr;
  size_t n = 0;
  WidenBuffer() = default;
  WidenBuffer(const WidenBuffer&) = delete;
  WidenBuffer& operator=(const WidenBuffer&) = delete;
  ~WidenBuffer() { delete[] p; }
};

inline float* widen_buffer(size_t d) {
  thread_local WidenBuffer buf;
  if (buf.n < 4 * d) {
    delete[] buf.p;
    buf.p = nullptr;
    buf.n = 0;
    buf.p = new float[4 * d];
    buf.n = 4 * d;
  }
  return buf.p;
}

template <class L>
void project_t(const void* W, size_t v0, size_t nv, size_t d, const float* const* H, size_t nh, float* const* out) {
  const char* base = static_cast<const char*>(W);
  const size_t row = d * L::kSize;
  float* buf = L::kSize == 4 ? nullptr : widen_buffer(d);
  for (size_t v = v0; v < v0 + nv; v += 4) {
    const size_t nw = v0 + nv - v < 4 ? v0 + nv - v : 4;
    const float* w[4];
    for (size_t a = 0; a < nw; ++a) {
      const char* src = base + (v - v0 + a) * row;
      if (L::kSize == 4) {
        w[a] = reinterpret_cast<const float*>(src);
        continue;
      }
      float* dst = buf + a * d;
      size_t i = 0;
      for (; i + kW <= d; i += kW) _mm512_storeu_ps(dst + i, L::load(src, i));
      if (i < d) _mm512_mask_storeu_ps(dst + i, tail_mask(d - i), L::load(src, i, tail_mask(d - i)));
      w[a] = dst;
    }
    rows_x_hidden(w, nw, v, d, H, nh, out);
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

// The int8 block head (d a multiple of 32): 4 rows widened at a time (exactly, see dequant_q8) into the per-thread
// float32 copy, then the same tiles as project's float32 rows.
void project_q8(const int8_t* q8, const float* scale, size_t v0, size_t nv, size_t d, const float* const* H,
                size_t nh, float* const* out) {
  float* buf = widen_buffer(d);
  for (size_t v = v0; v < v0 + nv; v += 4) {
    const size_t nw = v0 + nv - v < 4 ? v0 + nv - v : 4;
    const float* w[4];
    for (size_t a = 0; a < nw; ++a) {
      const int8_t* q = q8 + (v + a) * d;
      const float* sc = scale + (v + a) * d / 32;
      float* dst = buf + a * d;
      for (size_t b = 0; b < d / 32; ++b) {
        const __m512 s = _mm512_set1_ps(sc[b]);
        for (size_t h = 0; h < 2; ++h) {
          const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + b * 32 + h * 16));
          _mm512_storeu_ps(dst + b * 32 + h * 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(raw)), s));
        }
      }
      w[a] = dst;
    }
    rows_x_hidden(w, nw, v, d, H, nh, out);
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

const DolaOps kAvx512{"avx512", project, divergence, exp_shift, dequant_q8, project_q8};

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
