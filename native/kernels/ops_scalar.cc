// The scalar implementation of the bulk passes: the reference every SIMD path is tested against.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "contrast.h"
#include "load.h"

namespace ac {
namespace {

bool max_sumexp(const void* z, DType dt, size_t n, float* max_out, float* sum_out) {
  float m = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < n; ++i) {
    const float x = load_one(z, dt, i);
    if (!std::isfinite(x)) return false;
    if (x > m) m = x;
  }
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(load_one(z, dt, i) - m));
  *max_out = m;
  *sum_out = static_cast<float>(s);
  return true;
}

size_t write_collect(const void* z, DType dt, size_t n, float sub, float thr, bool mask_outside, float* out,
                     int32_t* idx) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    const float x = load_one(z, dt, i);
    const bool in_head = x >= thr;
    out[i] = (mask_outside && !in_head) ? neg_inf : x - sub;
    if (in_head) idx[count++] = static_cast<int32_t>(i);
  }
  return count;
}

bool all_finite(const void* z, DType dt, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(load_one(z, dt, i))) return false;
  return true;
}

float dot(const void* w, DType dt, const float* h, size_t d) {
  double s = 0.0;
  for (size_t i = 0; i < d; ++i) s += static_cast<double>(load_one(w, dt, i)) * h[i];
  return static_cast<float>(s);
}

// --- head_ops.inc over one lane: plain C++ (the compiler may vectorise some loops on its own) ---
struct LoadF32 {
  static constexpr size_t kSize = 4;
  static float load(const void* p, size_t i) { return static_cast<const float*>(p)[i]; }
};
struct LoadF16 {
  static constexpr size_t kSize = 2;
  static float load(const void* p, size_t i) { return f16_to_float(static_cast<const uint16_t*>(p)[i]); }
};
struct LoadBF16 {
  static constexpr size_t kSize = 2;
  static float load(const void* p, size_t i) { return bf16_to_float(static_cast<const uint16_t*>(p)[i]); }
};

struct S {
  using F = float;
  using M = bool;
  static constexpr size_t kW = 1;
  static constexpr bool kCompress = false;  // one lane: only head tokens are stored and exponentiated anyway
  static F set1(float v) { return v; }
  static F zero() { return 0.f; }
  static F add(F a, F b) { return a + b; }
  static F sub(F a, F b) { return a - b; }
  static F max(F a, F b) { return a > b ? a : b; }
  static F min(F a, F b) { return a < b ? a : b; }
  static F fms(F a, F x, F b, F y) { return std::fma(a, x, -(b * y)); }
  static F exp(F x) { return std::exp(x); }
  static M ge(F a, F b) { return a >= b; }
  static M all() { return true; }
  static M none() { return false; }
  static M lanes(size_t r) { return r > 0; }
  static M mand(M a, M b) { return a && b; }
  static M mor(M a, M b) { return a || b; }
  static bool any(M m) { return m; }
  static size_t count(M m) { return m ? 1 : 0; }
  using C = size_t;
  static C czero() { return 0; }
  static C cadd(C c, M m) { return c + (m ? 1 : 0); }
  static size_t ctotal(C c) { return c; }
  static F blend(M m, F t, F f) { return m ? t : f; }
  static F maskz(M m, F v) { return m ? v : 0.f; }
  static M nonfinite(F x) { return !std::isfinite(x); }
  static float hmax(F v) { return v; }
  static double hsum(F v) { return v; }
  template <class L>
  static F load(const void* p, size_t i) { return L::load(p, i); }
  template <class L>
  static F load_part(const void* p, size_t i, size_t) { return L::load(p, i); }
  static F loadf(const float* p) { return *p; }
  static F loadf_part(const float* p, size_t) { return *p; }
  static void storef(float* p, F v) { *p = v; }
  static void storef_part(float* p, F v, size_t) { *p = v; }
  static void append(M, size_t base, int32_t* dst) { *dst = static_cast<int32_t>(base); }
  static void scatter(float* out, const int32_t* idx, F v) { out[*idx] = v; }
};

#include "head_ops.inc"

const Ops kScalar{"scalar", max_sumexp, write_collect, all_finite, dot, AC_HEAD_OPS};

}  // namespace

const Ops& scalar_ops() { return kScalar; }

}  // namespace ac
