// The int8 head product (head_i8.h): hidden-row quantisation, the scalar product the SIMD ones are tested against,
// and the choice of instruction set.
#include "head_i8.h"

#include <cmath>
#include <cstring>

namespace ac {
namespace i8 {

void quantise_row(const float* x, size_t d, int8_t* q, float* scale, int32_t* sum) {
  for (size_t b = 0; b < d / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    float amax = 0.f;
    for (size_t i = 0; i < kBlock; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float t = amax / 127.f;
    scale[b] = t;
    int32_t s = 0;
    for (size_t i = 0; i < kBlock; ++i) {
      // |x / t| <= 127 up to rounding; the clamp keeps a rounding of the division above 127.5 in range
      float r = t > 0.f ? std::nearbyint(xb[i] / t) : 0.f;
      r = std::fmin(127.f, std::fmax(-127.f, r));
      q[b * kBlock + i] = static_cast<int8_t>(r);
      s += static_cast<int32_t>(r);
    }
    sum[b] = s;
  }
}

namespace {

void project_scalar(const Head& w, size_t t0, size_t t1, const Acts& a, size_t nh, float* const* out) {
  const size_t d = w.d, nb = d / kBlock;
  for (size_t t = t0; t < t1; ++t) {
    const uint8_t* codes = w.codes + t * d * kTileRows;
    const float* scales = w.scales + t * nb * kTileRows;
    for (size_t r = 0; r < kTileRows && t * kTileRows + r < w.rows; ++r) {
      for (size_t h = 0; h < nh; ++h) {
        float acc = 0.f;
        for (size_t b = 0; b < nb; ++b) {
          int32_t isum = 0;
          for (size_t i = b * kBlock; i < (b + 1) * kBlock; ++i) {
            const int32_t qw = static_cast<int32_t>(codes[(i / kGroup) * kGroup * kTileRows + r * kGroup + i % kGroup]) - 128;
            isum += qw * a.q[h][i];
          }
          acc = std::fma(static_cast<float>(isum), scales[b * kTileRows + r] * a.scale[h][b], acc);
        }
        out[h][t * kTileRows + r] = acc;
      }
    }
  }
}

const I8Ops kScalar{"scalar", project_scalar};

}  // namespace

const I8Ops& i8_scalar_ops() { return kScalar; }

const I8Ops& i8_ops_for(const Ops& ops) {
  const bool avx512 = std::strcmp(ops.name, "avx512") == 0;
  if (avx512 && cpu_has_avx512_vnni())
    if (const I8Ops* o = i8_avx512vnni_ops()) return *o;
  if (avx512 || std::strcmp(ops.name, "avx2") == 0)
    if (const I8Ops* o = i8_avx2_ops()) return *o;
  return kScalar;
}

}  // namespace i8
}  // namespace ac
