// Layer selection by divergence on the GPU (ac_cuda_dola.h): the computation of native/kernels/dola.cc in four
// launches: the batched candidate projection (a warp per head row, each block's hidden vectors staged in shared
// memory so that every head row is read once per group of 8 hidden vectors), the log-sum-exp of every final and
// candidate row, the divergences, and per row the choice and the DoLa scores. Compiled here; not yet run on a GPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "ac_cuda_dola.h"

namespace {

constexpr int kBlock = 256;
constexpr int kVecs = 8;      // hidden vectors per projection block
constexpr int kChunk = 1024;  // hidden elements staged per pass (kVecs x kChunk floats = 32 KiB of shared memory)

__device__ __forceinline__ float ninf() { return __int_as_float(0xff800000); }
__device__ __forceinline__ bool finite(float x) { return (__float_as_uint(x) & 0x7f800000u) != 0x7f800000u; }

__device__ __forceinline__ float weight_at(const void* w, int dt, int64_t i) {
  if (dt == AC_CUDA_F32) return static_cast<const float*>(w)[i];
  if (dt == AC_CUDA_F16) return __half2float(static_cast<const __half*>(w)[i]);
  return __uint_as_float(static_cast<uint32_t>(static_cast<const uint16_t*>(w)[i]) << 16);
}

// Block-wide sum / max of one float per thread (kBlock threads).
template <bool kMax>
__device__ float block_reduce(float v) {
  __shared__ float part[kBlock / 32];
  for (int o = 16; o > 0; o >>= 1) {
    const float u = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? fmaxf(v, u) : v + u;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < kBlock / 32 ? part[lane] : (kMax ? ninf() : 0.f);
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) {
      const float u = __shfl_xor_sync(0xffffffffu, v, o);
      v = kMax ? fmaxf(v, u) : v + u;
    }
  __shared__ float result;
  if (threadIdx.x == 0) result = v;
  __syncthreads();
  return result;
}

// 1. z[n][v] = W[v] . h[n] (+ b[v]) for n hidden vectors (n = rows x C, vector n = candidate n % C of row n / C,
//    stored at hidden[(n % C) * rows * d + (n / C) * d]); grid (ceil(V / 8), ceil(n / kVecs)), a warp per head row.
__global__ void project_kernel(const float* hidden, int C, int64_t rows, int64_t d, const void* W, int wdt,
                               const void* bias, int64_t V, float* z) {
  __shared__ float h[kVecs][kChunk];
  const int64_t n_total = rows * C;
  const int64_t n0 = static_cast<int64_t>(blockIdx.y) * kVecs;
  const int lane = threadIdx.x & 31;
  const int64_t v = static_cast<int64_t>(blockIdx.x) * (kBlock / 32) + (threadIdx.x >> 5);
  float acc[kVecs];
#pragma unroll
  for (int j = 0; j < kVecs; ++j) acc[j] = 0.f;
  for (int64_t k0 = 0; k0 < d; k0 += kChunk) {
    const int64_t len = d - k0 < kChunk ? d - k0 : kChunk;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < kVecs * len; i += kBlock) {
      const int j = static_cast<int>(i / len);
      const int64_t k = i % len, n = n0 + j;
      float x = 0.f;
      if (n < n_total) x = hidden[(n % C) * rows * d + (n / C) * d + k0 + k];
      h[j][k] = x;
    }
    __syncthreads();
    if (v < V) {
      for (int64_t k = lane; k < len; k += 32) {
        const float w = weight_at(W, wdt, v * d + k0 + k);
#pragma unroll
        for (int j = 0; j < kVecs; ++j) acc[j] = fmaf(w, h[j][k], acc[j]);
      }
    }
  }
  if (v >= V) return;
#pragma unroll
  for (int j = 0; j < kVecs; ++j)
    for (int o = 16; o > 0; o >>= 1) acc[j] += __shfl_xor_sync(0xffffffffu, acc[j], o);
  if (lane == 0) {
    const float b = bias ? weight_at(bias, wdt, v) : 0.f;
#pragma unroll
    for (int j = 0; j < kVecs; ++j) {
      const int64_t n = n0 + j;
      if (n < n_total) z[n * V + v] = acc[j] + b;
    }
  }
}

// 2. per row i of [rows x (C + 1)] (column 0: the final logits, column c + 1: candidate c): max and log-sum-exp;
//    lse = NaN marks a non-finite row. One block per row.
__global__ void lse_kernel(const float* fin, const float* z, int C, int64_t V, float* mx, float* lse) {
  const int64_t i = blockIdx.x, row = i / (C + 1), c = i % (C + 1);
  const float* x = c == 0 ? fin + row * V : z + (row * C + c - 1) * V;
  float m = ninf();
  int bad = 0;
  for (int64_t v = threadIdx.x; v < V; v += kBlock) {
    const float t = x[v];
    bad |= !finite(t);
    m = fmaxf(m, t);
  }
  m = block_reduce<true>(m);
  const float anybad = block_reduce<true>(bad ? 1.f : 0.f);
  float s = 0.f;
  for (int64_t v = threadIdx.x; v < V; v += kBlock) s += __expf(x[v] - m);
  s = block_reduce<false>(s);
  if (threadIdx.x == 0) {
    mx[i] = m;
    lse[i] = anybad > 0.f ? __int_as_float(0x7fc00000) : m + logf(s);
  }
}

// 3. divergence of candidate c from the final layer for each row: one block per (row, c).
__global__ void divergence_kernel(const float* fin, const float* z, int C, int64_t V, const float* lse, int kind,
                                  float* div) {
  const int64_t i = blockIdx.x, row = i / C, c = i % C;
  const float lf = lse[row * (C + 1)], lc = lse[row * (C + 1) + c + 1];
  const float* zf = fin + row * V;
  const float* zc = z + (row * C + c) * V;
  float acc = 0.f;
  for (int64_t v = threadIdx.x; v < V; v += kBlock) {
    const float lp = zf[v] - lf, lq = zc[v] - lc;
    const float p = __expf(lp), q = __expf(lq), s = p + q;
    if (!(s > 0.f)) continue;
    const float lm = logf(s) - 0.69314718f;
    acc += kind == 0 ? 0.25f * s * (2.f * lm - lp - lq) : 0.5f * (p * (lp - lm) + q * (lq - lm));
  }
  acc = block_reduce<false>(acc);
  if (threadIdx.x == 0) div[i] = kind == 0 ? acc / static_cast<float>(V) : acc;
}

// 4. per row: the first candidate of largest divergence, then DoLa's scores on the relative-top head.
__global__ void dola_kernel(const float* fin, const float* z, int C, int64_t V, const float* mx, const float* lse,
                            const float* div, float log_alpha, float* out, int32_t* chosen, float* divergences) {
  const int64_t row = blockIdx.x;
  __shared__ int best;
  __shared__ int bad;
  if (threadIdx.x == 0) {
    bad = 0;
    for (int c = 0; c <= C; ++c) bad |= !finite(lse[row * (C + 1) + c]);
    best = 0;
    for (int c = 1; c < C; ++c)
      if (div[row * C + c] > div[row * C + best]) best = c;
    chosen[row] = bad ? -1 : best;
    if (divergences)
      for (int c = 0; c < C; ++c) divergences[row * C + c] = div[row * C + c];
  }
  __syncthreads();
  const float lf = lse[row * (C + 1)], lc = lse[row * (C + 1) + best + 1];
  const float thr = mx[row * (C + 1)] - lf + log_alpha;
  const float* zf = fin + row * V;
  const float* zc = z + (row * C + best) * V;
  for (int64_t v = threadIdx.x; v < V; v += kBlock) {
    const float lp = zf[v] - lf;
    out[row * V + v] = bad ? __int_as_float(0x7fc00000) : lp >= thr ? lp - (zc[v] - lc) : ninf();
  }
}

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

extern "C" {

AC_CUDA_API size_t ac_cuda_dola_workspace_bytes(int64_t rows, int32_t candidates, int64_t vocab) {
  const size_t R = static_cast<size_t>(rows), C = static_cast<size_t>(candidates);
  return align256(R * C * static_cast<size_t>(vocab) * 4) + 2 * align256(R * (C + 1) * 4) + align256(R * C * 4);
}

AC_CUDA_API int ac_cuda_dola(void* stream, const float* final_logits, const float* hidden, int32_t candidates,
                             int64_t rows, int64_t vocab, int64_t d, int32_t weight_dtype, const void* weight,
                             const void* bias, int32_t divergence, float alpha, void* workspace, float* out,
                             int32_t* chosen, float* divergences) {
  if (!final_logits || !hidden || !weight || !workspace || !out || !chosen || candidates < 1 || rows < 1 ||
      vocab < 1 || d < 1 || weight_dtype < AC_CUDA_F32 || weight_dtype > AC_CUDA_BF16 || divergence < 0 ||
      divergence > 1 || !(alpha >= 0.f && alpha <= 1.f))
    return AC_CUDA_ERR_INVALID_ARGUMENT;
  const int C = candidates;
  const int64_t n = rows * C;
  if (n > 65535LL * kVecs || rows * (C + 1) > 0x7fffffffLL) return AC_CUDA_ERR_INVALID_ARGUMENT;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  char* ws = static_cast<char*>(workspace);
  float* z = reinterpret_cast<float*>(ws);
  ws += align256(static_cast<size_t>(n) * static_cast<size_t>(vocab) * 4);
  float* mx = reinterpret_cast<float*>(ws);
  ws += align256(static_cast<size_t>(rows * (C + 1)) * 4);
  float* lse = reinterpret_cast<float*>(ws);
  ws += align256(static_cast<size_t>(rows * (C + 1)) * 4);
  float* div = reinterpret_cast<float*>(ws);
  const float log_alpha = alpha > 0.f ? logf(alpha) : -__builtin_huge_valf();

  const dim3 pgrid(static_cast<unsigned>((vocab + kBlock / 32 - 1) / (kBlock / 32)), static_cast<unsigned>((n + kVecs - 1) / kVecs));
  project_kernel<<<pgrid, kBlock, 0, s>>>(hidden, C, rows, d, weight, weight_dtype, bias, vocab, z);
  lse_kernel<<<static_cast<unsigned>(rows * (C + 1)), kBlock, 0, s>>>(final_logits, z, C, vocab, mx, lse);
  divergence_kernel<<<static_cast<unsigned>(n), kBlock, 0, s>>>(final_logits, z, C, vocab, lse, divergence, div);
  dola_kernel<<<static_cast<unsigned>(rows), kBlock, 0, s>>>(final_logits, z, C, vocab, mx, lse, div, log_alpha, out,
                                                           chosen, divergences);
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? AC_CUDA_OK : AC_CUDA_ERR_CUDA;
}

}  // extern "C"
