// AVX-512 (F/BW/VL/DQ) pass of the int8-block head projection (q8_head.h). CMake compiles this file alone with the
// AVX-512 flags; q8_head_ops_for hands the table out only when the contrast dispatch chose AVX-512 (which checked
// the CPU and the operating system's ZMM state). Same rule as ops_avx512.cc: everything lives in an anonymous
// namespace and no inline function shared with other files is called from here.
#include "q8_head.h"

#if defined(AC_HAVE_X86)

#include <immintrin.h>

#include <cstdint>

namespace ac {
namespace q8head {
namespace {

constexpr size_t kW = 16;   // lanes
constexpr size_t kNV = 4;   // head rows per micro-tile
constexpr size_t kNR = 4;   // hidden rows per micro-tile

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

// 16 weights of head row q (codes) from column i, each its code times its block's scale: one float multiply, the
// same as the representability check did, so these are the float32 head's values bit for bit.
inline __m512 widen16(const int8_t* q, const float* scales, size_t i) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(raw)), _mm512_set1_ps(scales[i / kBlock]));
}

// Where a micro-tile reads its head rows: widened from their codes (and, for later hidden rows, also stored to the
// per-thread buffer), or from that buffer.
enum class Src { kCodes, kCodesKeep, kBuffer };

// NV head rows x NR hidden rows. Every accumulator takes the same operations in the same order whatever the source:
// acc = fma(w[i..i+16), h[i..i+16), acc) over i, then one reduction.
template <size_t NV, size_t NR, Src S>
inline void tile(const Head& w, size_t v, float* buf, const float* const* hidden, size_t r, float* const* out) {
  const size_t d = w.d;
  const int8_t* const codes = w.codes;
  const float* const scales = w.scales;
  const float* h[NR];
  for (size_t j = 0; j < NR; ++j) h[j] = hidden[r + j];
  __m512 acc[NV][NR];
  for (size_t a = 0; a < NV; ++a)
    for (size_t j = 0; j < NR; ++j) acc[a][j] = _mm512_setzero_ps();
  for (size_t i = 0; i < d; i += kW) {
    __m512 hv[NR];
    for (size_t j = 0; j < NR; ++j) hv[j] = _mm512_loadu_ps(h[j] + i);
    for (size_t a = 0; a < NV; ++a) {
      __m512 wv;
      if (S == Src::kBuffer) {
        wv = _mm512_loadu_ps(buf + a * d + i);
      } else {
        wv = widen16(codes + (v + a) * d, scales + (v + a) * (d / kBlock), i);
        if (S == Src::kCodesKeep) _mm512_storeu_ps(buf + a * d + i, wv);
      }
      for (size_t j = 0; j < NR; ++j) acc[a][j] = _mm512_fmadd_ps(wv, hv[j], acc[a][j]);
    }
  }
  for (size_t a = 0; a < NV; ++a)
    for (size_t j = 0; j < NR; ++j) out[r + j][v + a] = _mm512_reduce_add_ps(acc[a][j]);
}

// NV head rows from v against every hidden row: up to 4 hidden rows widen the codes in registers; with more, the
// first 4 also keep the widened rows in the buffer and the others read them from there.
template <size_t NV>
void rows_x_hidden(const Head& w, size_t v, float* buf, const float* const* hidden, size_t rows, float* const* out) {
  switch (rows) {
    case 1: return tile<NV, 1, Src::kCodes>(w, v, buf, hidden, 0, out);
    case 2: return tile<NV, 2, Src::kCodes>(w, v, buf, hidden, 0, out);
    case 3: return tile<NV, 3, Src::kCodes>(w, v, buf, hidden, 0, out);
    case 4: return tile<NV, 4, Src::kCodes>(w, v, buf, hidden, 0, out);
    default: break;
  }
  tile<NV, 4, Src::kCodesKeep>(w, v, buf, hidden, 0, out);
  size_t r = kNR;
  for (; r + kNR <= rows; r += kNR) tile<NV, 4, Src::kBuffer>(w, v, buf, hidden, r, out);
  switch (rows - r) {
    case 1: tile<NV, 1, Src::kBuffer>(w, v, buf, hidden, r, out); break;
    case 2: tile<NV, 2, Src::kBuffer>(w, v, buf, hidden, r, out); break;
    case 3: tile<NV, 3, Src::kBuffer>(w, v, buf, hidden, r, out); break;
    default: break;
  }
}

void project(const Head& w, size_t v0, size_t v1, const float* const* hidden, size_t rows, float* const* out) {
  float* buf = widen_buffer(kNV * w.d);
  size_t v = v0;
  if (rows == 1) {  // one hidden row: 8 head rows in flight (8 independent accumulators)
    for (; v + 2 * kNV <= v1; v += 2 * kNV) tile<2 * kNV, 1, Src::kCodes>(w, v, buf, hidden, 0, out);
  }
  for (; v + kNV <= v1; v += kNV) rows_x_hidden<kNV>(w, v, buf, hidden, rows, out);
  for (; v < v1; ++v) rows_x_hidden<1>(w, v, buf, hidden, rows, out);
}

const Q8HeadOps kAvx512{"avx512", project};

}  // namespace

const Q8HeadOps* q8_head_avx512_ops() { return &kAvx512; }

}  // namespace q8head
}  // namespace ac

#else

namespace ac {
namespace q8head {
const Q8HeadOps* q8_head_avx512_ops() { return nullptr; }
}  // namespace q8head
}  // namespace ac

#endif
