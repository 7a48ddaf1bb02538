// AArch64 Advanced SIMD (NEON) implementation of the bulk passes (see contrast.h, Ops). Kept deliberately plain:
// the same algorithms as ops_avx2.cc with 4 lanes. Tails are copied into a small buffer so nothing past the row
// is read. Compiled only where CMake defines AC_HAVE_NEON (aarch64); elsewhere neon_ops() returns null.
#include "contrast.h"

#if defined(AC_HAVE_NEON) && (defined(__aarch64__) || defined(_M_ARM64))

#include <arm_neon.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace ac {
namespace {

constexpr size_t kW = 4;
constexpr size_t kBlock = 1024;  // with 16 float partial sums: at most 64 terms each per block
constexpr float kInf = std::numeric_limits<float>::infinity();

struct LoadF32 {
  static constexpr size_t kSize = 4;
  static float32x4_t load(const void* p, size_t i) { return vld1q_f32(static_cast<const float*>(p) + i); }
};
struct LoadF16 {
  static constexpr size_t kSize = 2;
  static float32x4_t load(const void* p, size_t i) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(static_cast<const uint16_t*>(p) + i)));
  }
};
struct LoadBF16 {
  static constexpr size_t kSize = 2;
  static float32x4_t load(const void* p, size_t i) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(static_cast<const uint16_t*>(p) + i), 16));
  }
};

// The last r (1..3) values from element i; padding lanes repeat the first value, or are zero when zero_pad.
template <class L>
float32x4_t load_tail(const void* p, size_t i, size_t r, bool zero_pad) {
  alignas(16) unsigned char buf[kW * 4];
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

inline uint32x4_t lanes_below(size_t r) {
  const uint32_t iota[4] = {0, 1, 2, 3};
  return vcltq_u32(vld1q_u32(iota), vdupq_n_u32(static_cast<uint32_t>(r)));
}

// x - x is +0 for finite x and NaN otherwise.
inline uint32x4_t nonfinite_bits(uint32x4_t acc, float32x4_t x) {
  return vorrq_u32(acc, vreinterpretq_u32_f32(vsubq_f32(x, x)));
}

inline double hsum_pd(float32x4_t v) {
  return vaddvq_f64(vaddq_f64(vcvt_f64_f32(vget_low_f32(v)), vcvt_high_f64_f32(v)));
}

// e^x for x <= 88 (see ops_avx2.cc); x < -87 gives exactly 0.
inline float32x4_t exp_ps(float32x4_t x) {
  const float32x4_t lo = vdupq_n_f32(-87.0f);
  const uint32x4_t keep = vcgeq_f32(x, lo);
  x = vmaxq_f32(x, lo);
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693147182464599609375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-1.904654299957768e-09f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(r, p, vmulq_f32(r, r));
  p = vaddq_f32(p, vdupq_n_f32(1.0f));
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  const float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(e));
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(y), keep));
}

template <class L>
bool max_sumexp_t(const void* z, size_t n, float* max_out, float* sum_out) {
  float m = -kInf;
  double total = 0.0;
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t len = n - b < kBlock ? n - b : kBlock;
    float32x4_t m0 = vdupq_n_f32(-kInf), m1 = m0;
    uint32x4_t bad = vdupq_n_u32(0);
    size_t j = 0;
    for (; j + 2 * kW <= len; j += 2 * kW) {
      const float32x4_t x0 = L::load(z, b + j), x1 = L::load(z, b + j + kW);
      m0 = vmaxq_f32(m0, x0);
      m1 = vmaxq_f32(m1, x1);
      bad = nonfinite_bits(nonfinite_bits(bad, x0), x1);
    }
    for (; j + kW <= len; j += kW) {
      const float32x4_t x = L::load(z, b + j);
      m0 = vmaxq_f32(m0, x);
      bad = nonfinite_bits(bad, x);
    }
    const size_t tail = len - j;
    if (tail) {
      const float32x4_t x = load_tail<L>(z, b + j, tail, false);
      m1 = vmaxq_f32(m1, x);
      bad = nonfinite_bits(bad, x);
    }
    if (vmaxvq_u32(bad) != 0) return false;
    const float bm = vmaxvq_f32(vmaxq_f32(m0, m1));
    if (bm > m) {
      if (total != 0.0) total *= std::exp(static_cast<double>(m) - static_cast<double>(bm));
      m = bm;
    }
    const float32x4_t vm = vdupq_n_f32(m);
    float32x4_t s0 = vdupq_n_f32(0.f), s1 = s0, s2 = s0, s3 = s0;
    j = 0;
    for (; j + 4 * kW <= len; j += 4 * kW) {
      s0 = vaddq_f32(s0, exp_ps(vsubq_f32(L::load(z, b + j), vm)));
      s1 = vaddq_f32(s1, exp_ps(vsubq_f32(L::load(z, b + j + kW), vm)));
      s2 = vaddq_f32(s2, exp_ps(vsubq_f32(L::load(z, b + j + 2 * kW), vm)));
      s3 = vaddq_f32(s3, exp_ps(vsubq_f32(L::load(z, b + j + 3 * kW), vm)));
    }
    for (; j + kW <= len; j += kW) s0 = vaddq_f32(s0, exp_ps(vsubq_f32(L::load(z, b + j), vm)));
    if (tail) {
      const float32x4_t e = exp_ps(vsubq_f32(load_tail<L>(z, b + j, tail, false), vm));
      s1 = vaddq_f32(s1, vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), lanes_below(tail))));
    }
    total += hsum_pd(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  }
  *max_out = m;
  *sum_out = static_cast<float>(total);
  return true;
}

template <class L, bool kMask>
size_t write_collect_t(const void* z, size_t n, float sub, float thr, float* out, int32_t* idx) {
  const float32x4_t vsub = vdupq_n_f32(sub), vthr = vdupq_n_f32(thr), ninf = vdupq_n_f32(-kInf);
  size_t count = 0;
  for (size_t i = 0; i < n; i += kW) {
    const size_t r = n - i < kW ? n - i : kW;
    const float32x4_t x = r == kW ? L::load(z, i) : load_tail<L>(z, i, r, false);
    const uint32x4_t in = vcgeq_f32(x, vthr);
    float32x4_t y = vsubq_f32(x, vsub);
    if (kMask) y = vbslq_f32(in, y, ninf);
    if (r == kW) {
      vst1q_f32(out + i, y);
    } else {
      float tmp[kW];
      vst1q_f32(tmp, y);
      std::memcpy(out + i, tmp, r * sizeof(float));
    }
    if (vmaxvq_u32(in) != 0) {
      uint32_t lanes[kW];
      vst1q_u32(lanes, in);
      for (size_t l = 0; l < r; ++l)
        if (lanes[l]) idx[count++] = static_cast<int32_t>(i + l);
    }
  }
  return count;
}

template <class L>
bool all_finite_t(const void* z, size_t n) {
  uint32x4_t bad0 = vdupq_n_u32(0), bad1 = bad0;
  size_t i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    bad0 = nonfinite_bits(bad0, L::load(z, i));
    bad1 = nonfinite_bits(bad1, L::load(z, i + kW));
  }
  for (; i + kW <= n; i += kW) bad0 = nonfinite_bits(bad0, L::load(z, i));
  if (i < n) bad1 = nonfinite_bits(bad1, load_tail<L>(z, i, n - i, false));
  return vmaxvq_u32(vorrq_u32(bad0, bad1)) == 0;
}

template <class L>
float dot_t(const void* w, const float* h, size_t d) {
  float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 4 * kW <= d; i += 4 * kW) {
    a0 = vfmaq_f32(a0, L::load(w, i), vld1q_f32(h + i));
    a1 = vfmaq_f32(a1, L::load(w, i + kW), vld1q_f32(h + i + kW));
    a2 = vfmaq_f32(a2, L::load(w, i + 2 * kW), vld1q_f32(h + i + 2 * kW));
    a3 = vfmaq_f32(a3, L::load(w, i + 3 * kW), vld1q_f32(h + i + 3 * kW));
  }
  for (; i + kW <= d; i += kW) a0 = vfmaq_f32(a0, L::load(w, i), vld1q_f32(h + i));
  if (i < d) {
    float hb[kW] = {};
    std::memcpy(hb, h + i, (d - i) * sizeof(float));
    a1 = vfmaq_f32(a1, load_tail<L>(w, i, d - i, true), vld1q_f32(hb));
  }
  return static_cast<float>(hsum_pd(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3))));
}

// --- the SIMD vocabulary of head_ops.inc (masks are vectors of all-ones / all-zeros lanes) ---
struct S {
  using F = float32x4_t;
  using M = uint32x4_t;
  static constexpr size_t kW = 4;
  static constexpr bool kCompress = false;
  static F set1(float v) { return vdupq_n_f32(v); }
  static F zero() { return vdupq_n_f32(0.f); }
  static F add(F a, F b) { return vaddq_f32(a, b); }
  static F sub(F a, F b) { return vsubq_f32(a, b); }
  static F max(F a, F b) { return vmaxq_f32(a, b); }
  static F min(F a, F b) { return vminq_f32(a, b); }
  static F fms(F a, F x, F b, F y) { return vfmsq_f32(vmulq_f32(a, x), b, y); }
  static F exp(F x) { return exp_ps(x); }
  static M ge(F a, F b) { return vcgeq_f32(a, b); }
  static M all() { return vdupq_n_u32(~0u); }
  static M none() { return vdupq_n_u32(0); }
  static M lanes(size_t r) { return lanes_below(r); }
  static M mand(M a, M b) { return vandq_u32(a, b); }
  static M mor(M a, M b) { return vorrq_u32(a, b); }
  static bool any(M m) { return vmaxvq_u32(m) != 0; }
  static size_t count(M m) { return vaddvq_u32(vshrq_n_u32(m, 31)); }
  using C = uint32x4_t;  // all-ones lanes are -1: subtracting a mask counts its lanes
  static C czero() { return vdupq_n_u32(0); }
  static C cadd(C c, M m) { return vsubq_u32(c, m); }
  static size_t ctotal(C c) { return vaddvq_u32(c); }
  static F blend(M m, F t, F f) { return vbslq_f32(m, t, f); }
  static F maskz(M m, F v) { return vreinterpretq_f32_u32(vandq_u32(m, vreinterpretq_u32_f32(v))); }
  static M nonfinite(F x) {
    const float32x4_t d = vsubq_f32(x, x);  // NaN exactly for NaN and +-inf
    return vmvnq_u32(vceqq_f32(d, d));
  }
  static float hmax(F v) { return vmaxvq_f32(v); }
  static double hsum(F v) { return hsum_pd(v); }
  template <class L>
  static F load(const void* p, size_t i) { return L::load(p, i); }
  template <class L>
  static F load_part(const void* p, size_t i, size_t r) { return load_tail<L>(p, i, r, true); }
  static F loadf(const float* p) { return vld1q_f32(p); }
  static F loadf_part(const float* p, size_t r) { return load_tail<LoadF32>(p, 0, r, true); }
  static void storef(float* p, F v) { vst1q_f32(p, v); }
  static void storef_part(float* p, F v, size_t r) {
    float tmp[kW];
    vst1q_f32(tmp, v);
    std::memcpy(p, tmp, r * sizeof(float));
  }
  static void append(M m, size_t base, int32_t* dst) {
    uint32_t l[kW];
    vst1q_u32(l, m);
    size_t c = 0;
    for (size_t j = 0; j < kW; ++j)
      if (l[j]) dst[c++] = static_cast<int32_t>(base + j);
  }
  static void scatter(float* out, const int32_t* idx, F v) {
    float tmp[kW];
    vst1q_f32(tmp, v);
    for (size_t l = 0; l < kW; ++l) out[idx[l]] = tmp[l];
  }
};

#include "head_ops.inc"
#include "ops_dispatch.inc"

const Ops kNeon{"neon", max_sumexp, write_collect, all_finite, dot, AC_HEAD_OPS};

}  // namespace

const Ops* neon_ops() { return &kNeon; }

}  // namespace ac

#else

namespace ac {
const Ops* neon_ops() { return nullptr; }
}  // namespace ac

#endif
