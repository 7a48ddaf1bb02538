// The scalar implementation of the bulk passes: the reference every SIMD path is tested against.
#include <cmath>
#include <limits>

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

const Ops kScalar{"scalar", max_sumexp, write_collect, all_finite, dot};

}  // namespace

const Ops& scalar_ops() { return kScalar; }

}  // namespace ac
