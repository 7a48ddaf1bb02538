// AVX2 + FMA pass of the int8-block head projection (q8_head.h). CMake compiles this file alone with the
// AVX2 flags; q8_head_ops_for hands the table out only when the contrast dispatch chose AVX2 or AVX-512 (which
// checked the CPU and the operating system's YMM state). Same rule as ops_avx2.cc: everything lives in an anonymous
// namespace and no inline function shared with other files is called from here.
#include "q8_head.h"

#if defined(AC_HAVE_X86)

#include <immintrin.h>

#include <cstdint>

namespace ac {
namespace q8head {
namespace {

constexpr size_t kW = 8;    // lanes
constexpr size_t kNV = 4;   // head rows per micro-tile
constexpr size_t kNR = 2;   // hidden rows per micro-tile (16 registers: 8 accumulators)

// Head rows widened to float, per thread, so that hidden rows after the first four reuse them. Plain new[] /
// delete[] rather than a standard container (see the file comment).
struct WidenBuffer {
  float* p = nullptr;
  size_t n = 0;
  WidenBuffer() = default;
  WidenBuffer(const WidenBuffer&) = delete;
  WidenBuffer& operator=(const WidenBuffer&) = delete;
  ~WidenBuffer() { delete[] p; }
};

float* widen_buffer(size_t n) {
  thread_local WidenBuffer buf;
  if (buf.n < n) {
    delete[] buf.p;
    buf.p = nullptr;
    buf.n = 0;
    buf.p = new float[n];
    buf.n = n;
  }
  return buf.p;
}

// 8 weights of head row q (codes) from column i, each its code times its block's scale: one float multiply, the
// same as the representability check did, so these are the float32 head's values bit for bit.
inline __m256 widen8(const int8_t* q, const float* scales, size_t i) {
  const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw)), _mm256_set1_ps(scales[i / kBlock]));
}

// The sum of the 8 lanes, always in the same order.
inline float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// Where a micro-tile reads its head rows: widened from their codes (and, for later hidden rows, also stored to the
// per-thread buffer), or from that buffer.
enum class Src { kCodes, kCodesKeep, kBuffer };

// NV head rows x NR hidden rows. Every accumulator takes the same operations in the same order whatever the source:
// acc = fma(w[i..i+8), h[i..i+8), acc) over i, then one reduction.
template <size_t NV, size_t NR, Src S>
inline void tile(const Head& w, size_t v, float* buf, const float* const* hidden, size_t r, float* const* out) {
  const size_t d = w.d;
  const int8_t* const codes = w.codes;
  const float* const scales = w.scales;
  const float* h[NR];
  for (size_t j = 0; j < NR; ++j) h[j] = hidden[r + j];
  __m256 acc[NV][NR];
  for (size_t a = 0; a < NV; ++a)
    for (size_t j = 0; j < NR; ++j) acc[a][j] = _mm256_setzero_ps();
  for (size_t i = 0; i < d; i += kW) {
    __m256 hv[NR];
    for (size_t j = 0; j < NR; ++j) hv[j] = _mm256_loadu_ps(h[j] + i);
    for (size_t a = 0; a < NV; ++a) {
      __m256 wv;
      if (S == Src::kBuffer) {
        wv = _mm256_loadu_ps(buf + a * d + i);
      } else {
        wv = widen8(codes + (v + a) * d, scales + (v + a) * (d / kBlock), i);
        if (S == Src::kCodesKeep) _mm256_storeu_ps(buf + a * d + i, wv);
      }
      for (size_t j = 0; j < NR; ++j) acc[a][j] = _mm256_fmadd_ps(wv, hv[j], acc[a][j]);
    }
  }
  for (size_t a = 0; a < NV; ++a)
    for (size_t j = 0; j < NR; ++j) out[r + j][v + a] = hsum8(acc[a][j]);
}

// NV head rows from v against every hidden row: up to 2 hidden rows widen the codes in registers; with more, the
// first 2 also keep the widened rows in the buffer and the others read them from there.
template <size_t NV>
void rows_x_hidden(const Head& w, size_t v, float* buf, const float* const* hidden, size_t rows, float* const* out) {
  if (rows <= kNR) {
    if (rows == 1) return tile<NV, 1, Src::kCodes>(w, v, buf, hidden, 0, out);
    return tile<NV, 2, Src::kCodes>(w, v, buf, hidden, 0, out);
  }
  tile<NV, 2, Src::kCodesKeep>(w, v, buf, hidden, 0, out);
  size_t r = kNR;
  for (; r + kNR <= rows; r += kNR) tile<NV, 2, Src::kBuffer>(w, v, buf, hidden, r, out);
  if (r < rows) tile<NV, 1, Src::kBuffer>(w, v, buf, hidden, r, out);
}

void project(const Head& w, size_t v0, size_t v1, const float* const* hidden, size_t rows, float* const* out) {
  float* buf = widen_buffer(kNV * w.d);
  size_t v = v0;
  for (; v + kNV <= v1; v += kNV) rows_x_hidden<kNV>(w, v, buf, hidden, rows, out);
  for (; v < v1; ++v) rows_x_hidden<1>(w, v, buf, hidden, rows, out);
}

const Q8HeadOps kAvx2{"avx2", project};

}  // namespace

const Q8HeadOps* q8_head_avx2_ops() { return &kAvx2; }

}  // namespace q8head
}  // namespace ac

#else

namespace ac {
namespace q8head {
const Q8HeadOps* q8_head_avx2_ops() { return nullptr; }
}  // namespace q8head
}  // namespace ac

#endif
