// AVX2 + FMA + F16C implementation of the bulk passes (see contrast.h, Ops). CMake compiles this file alone with
// -mavx2 -mfma -mf16c; dispatch.cc only hands the table out after checking the CPU and OS support.
//
// ODR note: everything here lives in an anonymous namespace and this file deliberately includes no header that
// defines non-template inline functions it calls (half.h, load.h). An out-of-line copy of such a function compiled
// with AVX2 flags could otherwise be picked by the linker for the scalar path and fault on older CPUs.
#include "contrast.h"

#if defined(AC_HAVE_X86)

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace ac {
namespace {

constexpr size_t kW = 8;         // floats per vector
constexpr size_t kBlock = 2048;  // elements per online-softmax block (8 KiB of float32: stays in L1)
constexpr float kInf = std::numeric_limits<float>::infinity();

// Index of the lowest set bit; x != 0.
inline unsigned ctz32(unsigned x) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long r;
  _BitScanForward(&r, x);
  return static_cast<unsigned>(r);
#else
  return static_cast<unsigned>(__builtin_ctz(x));
#endif
}

#include "simd_avx2.inc"

// The last r (1..7) values starting at element i, copied so nothing past the buffer is read. Padding lanes repeat
// the first copied value (harmless for max and finiteness) or are zero (for dot products).
template <class L>
__m256 load_tail(const void* p, size_t i, size_t r, bool zero_pad) {
  alignas(32) unsigned char buf[kW * 4];
  const unsigned char* src = static_cast<const unsigned char*>(p) + i * L::kSize;
  std::memcpy(buf, src, r * L::kSize);
  for (size_t j = r; j < kW; ++j) {
    if (zero_pad)
      std::memset(buf + j * L::kSize, 0, L::kSize);
    else
      std::memcpy(buf + j * L::kSize, src, L::kSize);
  }
  return L::load(buf, 0);
}

// Lanes [0, r) set.
inline __m256 lanes_below(size_t r) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), iota));
}

// --- reductions ---

inline float hmax(__m256 v) {
  __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_max_ps(a, _mm_movehl_ps(a, a));
  a = _mm_max_ss(a, _mm_shuffle_ps(a, a, 1));
  return _mm_cvtss_f32(a);
}

inline double hsum_pd(__m256 v) {
  const __m256d d = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  __m128d a = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
  a = _mm_add_sd(a, _mm_unpackhi_pd(a, a));
  return _mm_cvtsd_f64(a);
}

inline bool any_bits(__m256 v) {
  const __m256i i = _mm256_castps_si256(v);
  return !_mm256_testz_si256(i, i);
}

// x - x is +0 for finite x and NaN for +-inf and NaN: OR-ing it into an accumulator flags non-finite values.
inline __m256 nonfinite_bits(__m256 acc, __m256 x) { return _mm256_or_ps(acc, _mm256_sub_ps(x, x)); }

// --- max_sumexp: blockwise online softmax normaliser ---
// Per block: pass 1 finds the block max (4 accumulators) and flags non-finite values; if the max grew, the running
// double total is rescaled once; pass 2 (block still in L1) sums exp(x - max) in float lanes, then adds the block
// sum to the double total. Float partial sums only ever hold up to kBlock / 32 terms per lane.
template <class L>
bool max_sumexp_t(const void* z, size_t n, float* max_out, float* sum_out) {
  float m = -kInf;
  double total = 0.0;
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t len = n - b < kBlock ? n - b : kBlock;
    __m256 m0 = _mm256_set1_ps(-kInf), m1 = m0, m2 = m0, m3 = m0;
    __m256 bad0 = _mm256_setzero_ps(), bad1 = bad0;
    size_t j = 0;
    for (; j + 4 * kW <= len; j += 4 * kW) {
      const __m256 x0 = L::load(z, b + j), x1 = L::load(z, b + j + kW);
      const __m256 x2 = L::load(z, b + j + 2 * kW), x3 = L::load(z, b + j + 3 * kW);
      m0 = _mm256_max_ps(m0, x0);
      m1 = _mm256_max_ps(m1, x1);
      m2 = _mm256_max_ps(m2, x2);
      m3 = _mm256_max_ps(m3, x3);
      bad0 = nonfinite_bits(bad0, x0);
      bad1 = nonfinite_bits(bad1, x1);
      bad0 = nonfinite_bits(bad0, x2);
      bad1 = nonfinite_bits(bad1, x3);
    }
    for (; j + kW <= len; j += kW) {
      const __m256 x = L::load(z, b + j);
      m0 = _mm256_max_ps(m0, x);
      bad0 = nonfinite_bits(bad0, x);
    }
    const size_t tail = len - j;
    if (tail) {
      const __m256 x = load_tail<L>(z, b + j, tail, false);
      m1 = _mm256_max_ps(m1, x);
      bad1 = nonfinite_bits(bad1, x);
    }
    if (any_bits(_mm256_or_ps(bad0, bad1))) return false;
    const float bm = hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
    if (bm > m) {
      if (total != 0.0) total *= std::exp(static_cast<double>(m) - static_cast<double>(bm));
      m = bm;
    }

    const __m256 vm = _mm256_set1_ps(m);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    j = 0;
    for (; j + 4 * kW <= len; j += 4 * kW) {
      s0 = _mm256_add_ps(s0, exp_ps(_mm256_sub_ps(L::load(z, b + j), vm)));
      s1 = _mm256_add_ps(s1, exp_ps(_mm256_sub_ps(L::load(z, b + j + kW), vm)));
      s2 = _mm256_add_ps(s2, exp_ps(_mm256_sub_ps(L::load(z, b + j + 2 * kW), vm)));
      s3 = _mm256_add_ps(s3, exp_ps(_mm256_sub_ps(L::load(z, b + j + 3 * kW), vm)));
    }
    for (; j + kW <= len; j += kW) s0 = _mm256_add_ps(s0, exp_ps(_mm256_sub_ps(L::load(z, b + j), vm)));
    if (tail) {
      const __m256 e = exp_ps(_mm256_sub_ps(load_tail<L>(z, b + j, tail, false), vm));
      s1 = _mm256_add_ps(s1, _mm256_and_ps(e, lanes_below(tail)));
    }
    total += hsum_pd(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  }
  *max_out = m;
  *sum_out = static_cast<float>(total);
  return true;
}

// --- write_collect ---

inline void append_bits(unsigned bits, size_t base, int32_t* idx, size_t& count) {
  while (bits) {
    idx[count++] = static_cast<int32_t>(base + ctz32(bits));
    bits &= bits - 1;
  }
}

template <class L, bool kMask>
size_t write_collect_t(const void* z, size_t n, float sub, float thr, float* out, int32_t* idx) {
  const __m256 vsub = _mm256_set1_ps(sub), vthr = _mm256_set1_ps(thr), ninf = _mm256_set1_ps(-kInf);
  size_t count = 0, i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    const __m256 x0 = L::load(z, i), x1 = L::load(z, i + kW);
    const __m256 in0 = _mm256_cmp_ps(x0, vthr, _CMP_GE_OQ), in1 = _mm256_cmp_ps(x1, vthr, _CMP_GE_OQ);
    __m256 y0 = _mm256_sub_ps(x0, vsub), y1 = _mm256_sub_ps(x1, vsub);
    if (kMask) {
      y0 = _mm256_blendv_ps(ninf, y0, in0);
      y1 = _mm256_blendv_ps(ninf, y1, in1);
    }
    _mm256_storeu_ps(out + i, y0);
    _mm256_storeu_ps(out + i + kW, y1);
    const unsigned bits = static_cast<unsigned>(_mm256_movemask_ps(in0)) |
                          (static_cast<unsigned>(_mm256_movemask_ps(in1)) << kW);
    if (bits) append_bits(bits, i, idx, count);
  }
  for (; i + kW <= n; i += kW) {
    const __m256 x = L::load(z, i);
    const __m256 in = _mm256_cmp_ps(x, vthr, _CMP_GE_OQ);
    __m256 y = _mm256_sub_ps(x, vsub);
    if (kMask) y = _mm256_blendv_ps(ninf, y, in);
    _mm256_storeu_ps(out + i, y);
    append_bits(static_cast<unsigned>(_mm256_movemask_ps(in)), i, idx, count);
  }
  if (i < n) {
    const size_t r = n - i;
    const __m256 x = load_tail<L>(z, i, r, false);
    const __m256 in = _mm256_cmp_ps(x, vthr, _CMP_GE_OQ);
    __m256 y = _mm256_sub_ps(x, vsub);
    if (kMask) y = _mm256_blendv_ps(ninf, y, in);
    alignas(32) float tmp[kW];
    _mm256_store_ps(tmp, y);
    std::memcpy(out + i, tmp, r * sizeof(float));
    append_bits(static_cast<unsigned>(_mm256_movemask_ps(in)) & ((1u << r) - 1u), i, idx, count);
  }
  return count;
}

// --- all_finite ---

template <class L>
bool all_finite_t(const void* z, size_t n) {
  __m256 bad0 = _mm256_setzero_ps(), bad1 = bad0, bad2 = bad0, bad3 = bad0;
  size_t i = 0;
  for (; i + 4 * kW <= n; i += 4 * kW) {
    bad0 = nonfinite_bits(bad0, L::load(z, i));
    bad1 = nonfinite_bits(bad1, L::load(z, i + kW));
    bad2 = nonfinite_bits(bad2, L::load(z, i + 2 * kW));
    bad3 = nonfinite_bits(bad3, L::load(z, i + 3 * kW));
  }
  for (; i + kW <= n; i += kW) bad0 = nonfinite_bits(bad0, L::load(z, i));
  if (i < n) bad1 = nonfinite_bits(bad1, load_tail<L>(z, i, n - i, false));
  return !any_bits(_mm256_or_ps(_mm256_or_ps(bad0, bad1), _mm256_or_ps(bad2, bad3)));
}

// --- dot ---

template <class L>
float dot_t(const void* w, const float* h, size_t d) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 4 * kW <= d; i += 4 * kW) {
    a0 = _mm256_fmadd_ps(L::load(w, i), _mm256_loadu_ps(h + i), a0);
    a1 = _mm256_fmadd_ps(L::load(w, i + kW), _mm256_loadu_ps(h + i + kW), a1);
    a2 = _mm256_fmadd_ps(L::load(w, i + 2 * kW), _mm256_loadu_ps(h + i + 2 * kW), a2);
    a3 = _mm256_fmadd_ps(L::load(w, i + 3 * kW), _mm256_loadu_ps(h + i + 3 * kW), a3);
  }
  for (; i + kW <= d; i += kW) a0 = _mm256_fmadd_ps(L::load(w, i), _mm256_loadu_ps(h + i), a0);
  if (i < d) {
    const size_t r = d - i;
    alignas(32) float hb[kW] = {};
    std::memcpy(hb, h + i, r * sizeof(float));
    a1 = _mm256_fmadd_ps(load_tail<L>(w, i, r, true), _mm256_load_ps(hb), a1);
  }
  return static_cast<float>(hsum_pd(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))));
}

// --- the SIMD vocabulary of head_ops.inc (masks are vectors of all-ones / all-zeros lanes) ---
inline size_t popcount8(unsigned x) {
  x = x - ((x >> 1) & 0x55u);
  x = (x & 0x33u) + ((x >> 2) & 0x33u);
  return (x + (x >> 4)) & 0x0fu;
}

struct S {
  using F = __m256;
  using M = __m256;
  static constexpr size_t kW = 8;
  static constexpr bool kCompress = false;  // no compress instruction (head_ops.inc: -inf lanes instead)
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F zero() { return _mm256_setzero_ps(); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F fms(F a, F x, F b, F y) { return _mm256_fmsub_ps(a, x, _mm256_mul_ps(b, y)); }
  static F exp(F x) { return exp_ps(x); }
  static M ge(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M all() { return _mm256_castsi256_ps(_mm256_set1_epi32(-1)); }
  static M none() { return _mm256_setzero_ps(); }
  static M lanes(size_t r) { return lanes_below(r); }
  static M mand(M a, M b) { return _mm256_and_ps(a, b); }
  static M mor(M a, M b) { return _mm256_or_ps(a, b); }
  static bool any(M m) { return _mm256_movemask_ps(m) != 0; }
  static size_t count(M m) { return popcount8(static_cast<unsigned>(_mm256_movemask_ps(m))); }
  using C = __m256i;  // all-ones lanes are -1: subtracting a mask counts its lanes
  static C czero() { return _mm256_setzero_si256(); }
  static C cadd(C c, M m) { return _mm256_sub_epi32(c, _mm256_castps_si256(m)); }
  static size_t ctotal(C c) {
    alignas(32) uint32_t l[kW];
    _mm256_store_si256(reinterpret_cast<__m256i*>(l), c);
    size_t t = 0;
    for (size_t j = 0; j < kW; ++j) t += l[j];
    return t;
  }
  static F blend(M m, F t, F f) { return _mm256_blendv_ps(f, t, m); }
  static F maskz(M m, F v) { return _mm256_and_ps(m, v); }
  static M nonfinite(F x) {
    const __m256 d = _mm256_sub_ps(x, x);  // NaN exactly for NaN and +-inf
    return _mm256_cmp_ps(d, d, _CMP_UNORD_Q);
  }
  static float hmax(F v) { return ::ac::hmax(v); }
  static double hsum(F v) { return hsum_pd(v); }
  template <class L>
  static F load(const void* p, size_t i) { return L::load(p, i); }
  template <class L>
  static F load_part(const void* p, size_t i, size_t r) { return load_tail<L>(p, i, r, true); }
  static F loadf(const float* p) { return _mm256_loadu_ps(p); }
  static F loadf_part(const float* p, size_t r) { return load_tail<LoadF32>(p, 0, r, true); }
  static void storef(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void storef_part(float* p, F v, size_t r) {
    alignas(32) float tmp[kW];
    _mm256_store_ps(tmp, v);
    std::memcpy(p, tmp, r * sizeof(float));
  }
  static void append(M m, size_t base, int32_t* dst) {
    size_t c = 0;
    append_bits(static_cast<unsigned>(_mm256_movemask_ps(m)), base, dst, c);
  }
  static void scatter(float* out, const int32_t* idx, F v) {
    alignas(32) float tmp[kW];
    _mm256_store_ps(tmp, v);
    for (size_t l = 0; l < kW; ++l) out[idx[l]] = tmp[l];
  }
};

#include "head_ops.inc"
#include "ops_dispatch.inc"

const Ops kAvx2{"avx2", max_sumexp, write_collect, all_finite, dot, AC_HEAD_OPS};

}  // namespace

const Ops* avx2_ops() { return &kAvx2; }

}  // namespace ac

#else  // !AC_HAVE_X86

namespace ac {
const Ops* avx2_ops() { return nullptr; }
}  // namespace ac

#endif
