// AVX-512 (F/BW/VL/DQ) implementation of the bulk passes (see contrast.h, Ops). CMake compiles this file alone
// with the AVX-512 flags; dispatch.cc only hands the table out after checking the CPU and OS (ZMM state) support.
// Same algorithms as ops_avx2.cc with 16 lanes; tails use masked loads and stores (masked-off lanes are never
// accessed, so nothing past the buffer is read or written).
//
// ODR note: everything here lives in an anonymous namespace and this file includes no header that defines
// non-template inline functions it calls (half.h, load.h), so no AVX-512 copy of a shared inline function can be
// chosen by the linker for other code.
#include "contrast.h"

#if defined(AC_HAVE_X86)

// GCC 12's AVX-512 headers initialise their "undefined" vectors from themselves (GCC bug 105593), which raises
// -Wmaybe-uninitialized (or -Wuninitialized) wherever such an intrinsic is inlined; the warnings are spurious and
// are silenced here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace ac {
namespace {

constexpr size_t kW = 16;        // floats per vector
constexpr size_t kBlock = 2048;  // elements per online-softmax block
constexpr float kInf = std::numeric_limits<float>::infinity();

// fpclass categories: QNaN | +Inf | -Inf | SNaN.
constexpr int kNonFiniteClass = 0x01 | 0x08 | 0x10 | 0x80;

#include "simd_avx512.inc"

inline unsigned popcount16(unsigned x) {
  x = x - ((x >> 1) & 0x5555u);
  x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
  x = (x + (x >> 4)) & 0x0f0fu;
  return (x + (x >> 8)) & 0x1fu;
}

inline double hsum_pd(__m512 v) {
  const __m512d d = _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                                  _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
  return _mm512_reduce_add_pd(d);
}

// --- max_sumexp: blockwise online softmax normaliser (see ops_avx2.cc) ---
template <class L>
bool max_sumexp_t(const void* z, size_t n, float* max_out, float* sum_out) {
  float m = -kInf;
  double total = 0.0;
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t len = n - b < kBlock ? n - b : kBlock;
    __m512 m0 = _mm512_set1_ps(-kInf), m1 = m0, m2 = m0, m3 = m0;
    __mmask16 bad = 0;
    size_t j = 0;
    for (; j + 4 * kW <= len; j += 4 * kW) {
      const __m512 x0 = L::load(z, b + j), x1 = L::load(z, b + j + kW);
      const __m512 x2 = L::load(z, b + j + 2 * kW), x3 = L::load(z, b + j + 3 * kW);
      m0 = _mm512_max_ps(m0, x0);
      m1 = _mm512_max_ps(m1, x1);
      m2 = _mm512_max_ps(m2, x2);
      m3 = _mm512_max_ps(m3, x3);
      bad |= static_cast<__mmask16>(_mm512_fpclass_ps_mask(x0, kNonFiniteClass) | _mm512_fpclass_ps_mask(x1, kNonFiniteClass) |
                                    _mm512_fpclass_ps_mask(x2, kNonFiniteClass) | _mm512_fpclass_ps_mask(x3, kNonFiniteClass));
    }
    for (; j + kW <= len; j += kW) {
      const __m512 x = L::load(z, b + j);
      m0 = _mm512_max_ps(m0, x);
      bad |= _mm512_fpclass_ps_mask(x, kNonFiniteClass);
    }
    const size_t tail = len - j;
    const __mmask16 tk = tail_mask(tail);
    if (tail) {
      const __m512 x = L::load(z, b + j, tk);
      m1 = _mm512_mask_max_ps(m1, tk, m1, x);
      bad |= _mm512_mask_fpclass_ps_mask(tk, x, kNonFiniteClass);
    }
    if (bad) return false;
    const float bm = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
    if (bm > m) {
      if (total != 0.0) total *= std::exp(static_cast<double>(m) - static_cast<double>(bm));
      m = bm;
    }

    const __m512 vm = _mm512_set1_ps(m);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    j = 0;
    for (; j + 4 * kW <= len; j += 4 * kW) {
      s0 = _mm512_add_ps(s0, exp_ps(_mm512_sub_ps(L::load(z, b + j), vm)));
      s1 = _mm512_add_ps(s1, exp_ps(_mm512_sub_ps(L::load(z, b + j + kW), vm)));
      s2 = _mm512_add_ps(s2, exp_ps(_mm512_sub_ps(L::load(z, b + j + 2 * kW), vm)));
      s3 = _mm512_add_ps(s3, exp_ps(_mm512_sub_ps(L::load(z, b + j + 3 * kW), vm)));
    }
    for (; j + kW <= len; j += kW) s0 = _mm512_add_ps(s0, exp_ps(_mm512_sub_ps(L::load(z, b + j), vm)));
    if (tail) s1 = _mm512_mask_add_ps(s1, tk, s1, exp_ps(_mm512_sub_ps(L::load(z, b + j, tk), vm)));
    total += hsum_pd(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  }
  *max_out = m;
  *sum_out = static_cast<float>(total);
  return true;
}

// --- write_collect ---

// Appends base + lane for every lane in k (lanes within one vector are in increasing order).
inline void append_lanes(__mmask16 k, size_t base, int32_t* idx, size_t& count) {
  const __m512i lanes = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(static_cast<int>(base)));
  const unsigned c = popcount16(static_cast<unsigned>(k));
  // Compress in a register, then a masked store of exactly c lanes: never writes past idx[count + c).
  _mm512_mask_storeu_epi32(idx + count, tail_mask(c), _mm512_maskz_compress_epi32(k, lanes));
  count += c;
}

template <class L, bool kMask>
size_t write_collect_t(const void* z, size_t n, float sub, float thr, float* out, int32_t* idx) {
  const __m512 vsub = _mm512_set1_ps(sub), vthr = _mm512_set1_ps(thr), ninf = _mm512_set1_ps(-kInf);
  size_t count = 0, i = 0;
  for (; i + kW <= n; i += kW) {
    const __m512 x = L::load(z, i);
    const __mmask16 in = _mm512_cmp_ps_mask(x, vthr, _CMP_GE_OQ);
    __m512 y = _mm512_sub_ps(x, vsub);
    if (kMask) y = _mm512_mask_blend_ps(in, ninf, y);
    _mm512_storeu_ps(out + i, y);
    if (in) append_lanes(in, i, idx, count);
  }
  if (i < n) {
    const __mmask16 tk = tail_mask(n - i);
    const __m512 x = L::load(z, i, tk);
    const __mmask16 in = static_cast<__mmask16>(_mm512_cmp_ps_mask(x, vthr, _CMP_GE_OQ) & tk);
    __m512 y = _mm512_sub_ps(x, vsub);
    if (kMask) y = _mm512_mask_blend_ps(in, ninf, y);
    _mm512_mask_storeu_ps(out + i, tk, y);
    if (in) append_lanes(in, i, idx, count);
  }
  return count;
}

// --- all_finite ---

template <class L>
bool all_finite_t(const void* z, size_t n) {
  __mmask16 bad = 0;
  size_t i = 0;
  for (; i + 4 * kW <= n; i += 4 * kW) {
    bad |= static_cast<__mmask16>(
        _mm512_fpclass_ps_mask(L::load(z, i), kNonFiniteClass) | _mm512_fpclass_ps_mask(L::load(z, i + kW), kNonFiniteClass) |
        _mm512_fpclass_ps_mask(L::load(z, i + 2 * kW), kNonFiniteClass) |
        _mm512_fpclass_ps_mask(L::load(z, i + 3 * kW), kNonFiniteClass));
  }
  for (; i + kW <= n; i += kW) bad |= _mm512_fpclass_ps_mask(L::load(z, i), kNonFiniteClass);
  if (i < n) {
    const __mmask16 tk = tail_mask(n - i);
    bad |= _mm512_mask_fpclass_ps_mask(tk, L::load(z, i, tk), kNonFiniteClass);
  }
  return bad == 0;
}

// --- dot ---

template <class L>
float dot_t(const void* w, const float* h, size_t d) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 4 * kW <= d; i += 4 * kW) {
    a0 = _mm512_fmadd_ps(L::load(w, i), _mm512_loadu_ps(h + i), a0);
    a1 = _mm512_fmadd_ps(L::load(w, i + kW), _mm512_loadu_ps(h + i + kW), a1);
    a2 = _mm512_fmadd_ps(L::load(w, i + 2 * kW), _mm512_loadu_ps(h + i + 2 * kW), a2);
    a3 = _mm512_fmadd_ps(L::load(w, i + 3 * kW), _mm512_loadu_ps(h + i + 3 * kW), a3);
  }
  for (; i + kW <= d; i += kW) a0 = _mm512_fmadd_ps(L::load(w, i), _mm512_loadu_ps(h + i), a0);
  if (i < d) {
    const __mmask16 tk = tail_mask(d - i);
    a1 = _mm512_fmadd_ps(L::load(w, i, tk), _mm512_maskz_loadu_ps(tk, h + i), a1);
  }
  return static_cast<float>(hsum_pd(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))));
}

// --- the SIMD vocabulary of head_ops.inc ---
struct S {
  using F = __m512;
  using M = __mmask16;
  static constexpr size_t kW = 16;
  static constexpr bool kCompress = true;
  static size_t compress(M m, F v, float* dst) {
    _mm512_storeu_ps(dst, _mm512_maskz_compress_ps(m, v));  // (the register form: compress-to-memory is slow on Zen 4)
    return popcount16(m);
  }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F zero() { return _mm512_setzero_ps(); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F fms(F a, F x, F b, F y) { return _mm512_fmsub_ps(a, x, _mm512_mul_ps(b, y)); }
  static F exp(F x) { return exp_ps(x); }
  static M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M all() { return 0xffff; }
  static M none() { return 0; }
  static M lanes(size_t r) { return tail_mask(r); }
  static M mand(M a, M b) { return static_cast<M>(a & b); }
  static M mor(M a, M b) { return static_cast<M>(a | b); }
  static bool any(M m) { return m != 0; }
  static size_t count(M m) { return popcount16(m); }
  using C = __m512i;
  static C czero() { return _mm512_setzero_si512(); }
  static C cadd(C c, M m) { return _mm512_mask_sub_epi32(c, m, c, _mm512_set1_epi32(-1)); }
  static size_t ctotal(C c) { return static_cast<size_t>(static_cast<uint32_t>(_mm512_reduce_add_epi32(c))); }
  static F blend(M m, F t, F f) { return _mm512_mask_blend_ps(m, f, t); }
  static F maskz(M m, F v) { return _mm512_maskz_mov_ps(m, v); }
  static M nonfinite(F x) { return _mm512_fpclass_ps_mask(x, kNonFiniteClass); }
  static float hmax(F v) { return _mm512_reduce_max_ps(v); }
  static double hsum(F v) { return hsum_pd(v); }
  template <class L>
  static F load(const void* p, size_t i) { return L::load(p, i); }
  template <class L>
  static F load_part(const void* p, size_t i, size_t r) { return L::load(p, i, tail_mask(r)); }
  static F loadf(const float* p) { return _mm512_loadu_ps(p); }
  static F loadf_part(const float* p, size_t r) { return _mm512_maskz_loadu_ps(tail_mask(r), p); }
  static void storef(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void storef_part(float* p, F v, size_t r) { _mm512_mask_storeu_ps(p, tail_mask(r), v); }
  static void append(M m, size_t base, int32_t* dst) {
    size_t c = 0;
    append_lanes(m, base, dst, c);
  }
  static void scatter(float* out, const int32_t* idx, F v) {
    _mm512_i32scatter_ps(out, _mm512_loadu_si512(idx), v, 4);
  }
};

#include "head_ops.inc"
#include "ops_dispatch.inc"

const Ops kAvx512{"avx512", max_sumexp, write_collect, all_finite, dot, AC_HEAD_OPS};

}  // namespace

const Ops* avx512_ops() { return &kAvx512; }

}  // namespace ac

#else  // !AC_HAVE_X86

namespace ac {
const Ops* avx512_ops() { return nullptr; }
}  // namespace ac

#endif
