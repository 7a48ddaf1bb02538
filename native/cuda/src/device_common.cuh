// Device helpers shared by the contrast and selection kernels: dtype loads, vectorised row traversal,
// block reductions and scans, orderable float keys and radix selection.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <cfloat>
#include <climits>
#include <type_traits>

#include "kernels.h"

namespace acc {

constexpr int kWarps = kThreads / 32;
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }
__device__ __forceinline__ float qnan() { return __int_as_float(0x7fc00000); }
__device__ __forceinline__ bool is_finite(float x) { return (__float_as_uint(x) & 0x7f800000u) != 0x7f800000u; }

// ---- dtype loads ----
template <typename T> struct Load;
template <> struct Load<float> {
  static constexpr int kVec = 4;  // elements per 16-byte vector
  __device__ static float one(const float* p, int64_t i) { return p[i]; }
  __device__ static void vec(const uint4& r, float* f) {
    f[0] = __uint_as_float(r.x); f[1] = __uint_as_float(r.y);
    f[2] = __uint_as_float(r.z); f[3] = __uint_as_float(r.w);
  }
};
template <> struct Load<__half> {
  static constexpr int kVec = 8;
  __device__ static float one(const __half* p, int64_t i) { return __half2float(p[i]); }
  __device__ static void vec(const uint4& r, float* f) {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      __half2 h = *reinterpret_cast<const __half2*>(&w[k]);
      float2 t = __half22float2(h);
      f[2 * k] = t.x; f[2 * k + 1] = t.y;
    }
  }
};
template <> struct Load<__nv_bfloat16> {
  static constexpr int kVec = 8;
  __device__ static float one(const __nv_bfloat16* p, int64_t i) {
    return __uint_as_float(static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(p)[i]) << 16);
  }
  __device__ static void vec(const uint4& r, float* f) {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      f[2 * k] = __uint_as_float(w[k] << 16);
      f[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
    }
  }
};

// Element i of a row whose dtype is known only at run time (0 f32, 1 f16, 2 bf16).
__device__ __forceinline__ float load_dyn(const void* p, int dt, int64_t i) {
  if (dt == 0) return static_cast<const float*>(p)[i];
  const uint16_t u = static_cast<const uint16_t*>(p)[i];
  if (dt == 1) return __half2float(__ushort_as_half(u));
  return __uint_as_float(static_cast<uint32_t>(u) << 16);
}

// Calls f(i, x) for every element of part `part` (of `nparts`) of row p[0..n), with 16-byte vector loads on
// the aligned body (4 vectors in flight per thread) and scalar loads for the unaligned ends.
template <typename T, typename F>
__device__ __forceinline__ void row_foreach(const T* p, int64_t n, int part, int nparts, F&& f) {
  constexpr int E = Load<T>::kVec;
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  int64_t pre = static_cast<int64_t>(((16u - (addr & 15u)) & 15u) / sizeof(T));
  if (pre > n) pre = n;
  const int64_t nvec = (n - pre) / E;
  const int64_t post = pre + nvec * E;
  if (part == 0)
    for (int64_t i = threadIdx.x; i < pre; i += kThreads) f(i, Load<T>::one(p, i));
  if (part == nparts - 1)
    for (int64_t i = post + threadIdx.x; i < n; i += kThreads) f(i, Load<T>::one(p, i));
  const int64_t vb = nvec * part / nparts, ve = nvec * (part + 1) / nparts;
  const uint4* vp = reinterpret_cast<const uint4*>(p + pre);
  int64_t j = vb + threadIdx.x;
  for (; j + 3 * kThreads < ve; j += 4 * kThreads) {
    uint4 r[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) r[u] = vp[j + u * kThreads];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      float x[E];
      Load<T>::vec(r[u], x);
      const int64_t base = pre + (j + u * kThreads) * E;
#pragma unroll
      for (int e = 0; e < E; ++e) f(base + e, x[e]);
    }
  }
  for (; j < ve; j += kThreads) {
    float x[E];
    Load<T>::vec(vp[j], x);
    const int64_t base = pre + j * E;
#pragma unroll
    for (int e = 0; e < E; ++e) f(base + e, x[e]);
  }
}

// Plain strided loop (cold paths: keeps code size and compile time down).
template <typename T, typename F>
__device__ __forceinline__ void row_foreach_simple(const T* p, int64_t n, F&& f) {
  for (int64_t i = threadIdx.x; i < n; i += kThreads) f(i, Load<T>::one(p, i));
}

// ---- reductions ----
struct MaxSum {  // online softmax normaliser: s = sum exp(x - m)
  float m, s;
};
__device__ __forceinline__ MaxSum combine(MaxSum a, MaxSum b) {
  if (a.m == neg_inf()) return b;
  if (b.m == neg_inf()) return a;
  const float m = fmaxf(a.m, b.m);
  return {m, a.s * __expf(a.m - m) + b.s * __expf(b.m - m)};
}
struct ArgBest {  // (value, index): larger value wins, lower index on ties; idx INT_MAX = none
  float v;
  int idx;
};
__device__ __forceinline__ ArgBest combine(ArgBest a, ArgBest b) {
  if (b.idx == INT_MAX) return a;
  if (a.idx == INT_MAX) return b;
  if (b.v > a.v || (b.v == a.v && b.idx < a.idx)) return b;
  return a;
}

struct Sum { template <typename V> __device__ V operator()(V a, V b) const { return a + b; } };
struct Min { template <typename V> __device__ V operator()(V a, V b) const { return a < b ? a : b; } };
struct Max { template <typename V> __device__ V operator()(V a, V b) const { return a > b ? a : b; } };
struct Comb { template <typename V> __device__ V operator()(V a, V b) const { return combine(a, b); } };

// Warp shuffle of any trivially copyable value made of 32-bit words.
template <typename V>
__device__ __forceinline__ V shfl_down_plain(V v, int d) {
  static_assert(sizeof(V) % 4 == 0, "shuffled values must be whole 32-bit words");
  constexpr int n = sizeof(V) / 4;
  uint32_t w[n];
  memcpy(w, &v, sizeof(V));
#pragma unroll
  for (int k = 0; k < n; ++k) w[k] = __shfl_down_sync(kFull, w[k], d);
  memcpy(&v, w, sizeof(V));
  return v;
}

// Block-wide reduction (deterministic order); every thread gets the result. Contains __syncthreads.
template <typename V, typename Op>
__device__ __forceinline__ V block_reduce(V v, Op op) {
  __shared__ __align__(16) unsigned char raw[kWarps * 16];  // enough for any V used here (<= 16 bytes)
  V* sh = reinterpret_cast<V*>(raw);
  static_assert(sizeof(V) <= 16, "block_reduce value too large");
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = op(v, shfl_down_plain(v, d));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // protect sh from a previous use
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  V r = sh[0];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) r = op(r, sh[w]);
  return r;
}

// Exclusive block scan of one int per thread; *total gets the block sum. Contains __syncthreads.
__device__ __forceinline__ int block_exclusive_scan(int v, int* total) {
  __shared__ int wsum[kWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int inc = v;
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const int t = __shfl_up_sync(kFull, inc, d);
    if (lane >= d) inc += t;
  }
  __syncthreads();
  if (lane == 31) wsum[warp] = inc;
  __syncthreads();
  int before = 0, tot = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) before += wsum[w];
    tot += wsum[w];
  }
  *total = tot;
  return before + inc - v;
}

// ---- orderable keys: larger float <=> larger key; -0 and +0 map to the same key ----
__device__ __forceinline__ uint32_t float_key(float x) {
  if (x == 0.f) return 0x80000000u;
  const uint32_t u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_float(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

__device__ __forceinline__ void atomic_add(uint32_t* p, uint32_t v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(unsigned long long* p, unsigned long long v) { atomicAdd(p, v); }

// Radix selection (8-bit digits, most significant first) of the key at rank `target` (1-based, counted from
// the largest) among the elements i in [0, n) with key_of(i) and weight_of(i) (W = uint32_t for counts, or
// uint64_t fixed-point masses for top-p: then the element where the cumulative weight from the top first
// reaches `target`). Integer histograms make the result independent of thread order. All threads of the
// block must call it; every thread gets the key.
template <typename W, typename KeyFn, typename WeightFn>
__device__ uint32_t block_radix_select(int64_t n, W target, KeyFn key_of, WeightFn weight_of) {
  __shared__ W hist[256];
  __shared__ uint32_t s_prefix;
  __shared__ W s_target;
  uint32_t prefix = 0, mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    hist[threadIdx.x] = 0;  // kThreads == 256
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      const uint32_t k = key_of(i);
      if ((k & mask) == prefix) {
        const W w = weight_of(i);
        if (w) atomic_add(&hist[(k >> shift) & 255u], w);
      }
    }
    __syncthreads();
    // Inclusive scan from the top bucket down: thread t holds bucket 255 - t.
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const W h = hist[255 - threadIdx.x];
    W inc = h;
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const W t = __shfl_up_sync(kFull, inc, d);
      if (lane >= d) inc += t;
    }
    __shared__ W wsum[kWarps];
    if (lane == 31) wsum[warp] = inc;
    __syncthreads();
    W before = 0;
    for (int w = 0; w < warp; ++w) before += wsum[w];
    inc += before;
    const W tgt = target;
    if (inc >= tgt && inc - h < tgt) {  // exactly one thread (h > 0 there)
      s_prefix = prefix | (static_cast<uint32_t>(255 - threadIdx.x) << shift);
      s_target = tgt - (inc - h);
    }
    __syncthreads();
    prefix = s_prefix;
    target = s_target;
    mask |= 255u << shift;
    __syncthreads();
  }
  return prefix;
}


// ---- inter-block synchronisation for rows split over several co-resident blocks ----
__device__ __forceinline__ unsigned ld_acquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

}  // namespace acc
