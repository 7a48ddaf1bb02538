// The int8-block head projection (q8_head.h): the scalar pass, which the tests compare the SIMD ones against, the
// choice of instruction set and the driver that spreads tiles of the vocabulary over the thread pool.
#include "q8_head.h"

#include <algorithm>
#include <cstring>

#include "parallel.h"

namespace ac {
namespace q8head {
namespace {

// Head rows per parallel task: 64 rows of SmolLM2's head are 36 KiB of codes, and every hidden row multiplies a
// tile's rows while they are in cache.
constexpr size_t kTile = 64;

void project_scalar(const Head& w, size_t v0, size_t v1, const float* const* hidden, size_t rows, float* const* out) {
  const size_t d = w.d;
  for (size_t v = v0; v < v1; ++v) {
    const int8_t* q = w.codes + v * d;
    const float* sc = w.scales + v * (d / kBlock);
    for (size_t r = 0; r < rows; ++r) {
      const float* h = hidden[r];
      float s = 0.f;
      for (size_t i = 0; i < d; ++i) s += static_cast<float>(q[i]) * sc[i / kBlock] * h[i];
      out[r][v] = s;
    }
  }
}

const Q8HeadOps kScalar{"scalar", project_scalar};

}  // namespace

const Q8HeadOps& q8_head_scalar_ops() { return kScalar; }

const Q8HeadOps& q8_head_ops_for(const Ops& ops) {
  if (std::strcmp(ops.name, "avx512") == 0) {
    if (const Q8HeadOps* o = q8_head_avx512_ops()) return *o;
  }
  if (std::strcmp(ops.name, "avx2") == 0 || std::strcmp(ops.name, "avx512") == 0) {
    if (const Q8HeadOps* o = q8_head_avx2_ops()) return *o;
  }
  return kScalar;
}

void project(const Q8HeadOps& ops, const Head& w, const float* const* hidden, size_t rows, float* const* out,
             int threads) {
  if (rows == 0 || w.vocab == 0) return;
  const size_t tiles = (w.vocab + kTile - 1) / kTile;
  // Small products are not worth a thread hop.
  const int use = rows * w.vocab * w.d < (size_t(1) << 16) ? 1 : threads;
  parallel_for(tiles, use, [&](size_t t0, size_t t1) {
    ops.project(w, t0 * kTile, std::min(w.vocab, t1 * kTile), hidden, rows, out);
  });
}

}  // namespace q8head
}  // namespace ac
