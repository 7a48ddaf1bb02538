// The fused ACD / CD contrast kernel (template; instantiated once per dtype in contrast_<dtype>.cu). One row is handled by one block, or split over `bpr` co-resident blocks
// (cooperative launch) for small batches: the blocks exchange their partial (max, sum) through a per-row
// barrier, write their part of the row, and the last block to finish (atomic ticket) processes the head.
//
// Per row: pass 1 reads the expert row once (online max and sum of exp, non-finite check; the dense amateur
// row is scanned for non-finite values as the CPU path does); pass 2 re-reads it (from L2), writes
// z - lse (ACD) or -inf (CD) outside the head and collects the head {z >= max + ln(alpha)}; the head is then
// widened to min_candidates by radix selection if needed, its contrast scores computed (dense gather or
// one warp per token for the sparse amateur), normalised, and the fused arg-max taken.
//
// Sums over the head use 64-bit fixed point so results do not depend on the order atomics produced the list.
#pragma once
#include <cooperative_groups.h>

#include "device_common.cuh"
#include "kernels.h"

namespace cg = cooperative_groups;

namespace acc {
namespace {

constexpr float kMassScale = 1099511627776.f;  // 2^40: mass terms are <= 1
constexpr float kZScale = 4294967296.f;        // 2^32: softmax terms are <= 1, their sum <= V

// Every thread must call this. bpr == 1: true. Otherwise true only in the last block of the row to get here,
// after which every other block's global writes are visible.
__device__ __forceinline__ bool finish_last(unsigned* done, int bpr) {
  __shared__ int s_last;
  if (bpr == 1) return true;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned t = atomicAdd(done, 1u);
    s_last = (t == static_cast<unsigned>(bpr - 1));
    if (s_last) __threadfence();
  }
  __syncthreads();
  return s_last != 0;
}

// Warp-aggregated appends of head indices (called only by threads whose token is in the head).
__device__ __noinline__ void append_global(int* count, int* list, int i) {
  cg::coalesced_group g = cg::coalesced_threads();
  int base = 0;
  if (g.thread_rank() == 0) base = atomicAdd(count, static_cast<int>(g.size()));
  base = g.shfl(base, 0);
  list[base + g.thread_rank()] = i;
}
__device__ __noinline__ void append_shared(int* count, int* list, int i) {
  cg::coalesced_group g = cg::coalesced_threads();
  int base = 0;
  if (g.thread_rank() == 0) base = atomicAdd(count, static_cast<int>(g.size()));
  base = g.shfl(base, 0);
  const int pos = base + static_cast<int>(g.thread_rank());
  if (pos < kHeadCap) list[pos] = i;
}

// Pass-1 and head-score values reduced together (one block reduction instead of three).
struct Pass1 {
  MaxSum ms;
  int bad_e, bad_a;
};
__device__ __forceinline__ Pass1 combine(Pass1 a, Pass1 b) {
  return {combine(a.ms, b.ms), min(a.bad_e, b.bad_e), min(a.bad_a, b.bad_a)};
}
struct HeadStats {
  float smax;
  int bad;
  unsigned long long massq;
};
__device__ __forceinline__ HeadStats combine(HeadStats a, HeadStats b) {
  return {fmaxf(a.smax, b.smax), min(a.bad, b.bad), a.massq + b.massq};
}

template <typename T>
__global__ void __launch_bounds__(kThreads) contrast_kernel(ContrastArgs a) {
  const int64_t row = blockIdx.x;
  const int part = blockIdx.y, bpr = gridDim.y;
  const int64_t V = a.V;
  const T* ze = static_cast<const T*>(a.expert) + row * V;
  const T* za = a.amateur ? static_cast<const T*>(a.amateur) + row * V : nullptr;
  float* out = a.out + row * V;
  const bool split = bpr > 1;

  __shared__ int s_list[kHeadCap];
  __shared__ int s_count;
  __shared__ float s_thr;
  if (threadIdx.x == 0) s_count = 0;

  // ---- pass 1: max and normaliser of the expert row, non-finite checks ----
  MaxSum ms{neg_inf(), 0.f};
  int bad_e = INT_MAX, bad_a = INT_MAX;
  row_foreach(ze, V, part, bpr, [&](int64_t i, float x) {
    if (!is_finite(x)) {
      bad_e = min(bad_e, static_cast<int>(i));
    } else if (x > ms.m) {
      ms.s = ms.s * __expf(ms.m - x) + 1.f;
      ms.m = x;
    } else {
      ms.s += __expf(x - ms.m);
    }
  });
  if (za && a.scan_amateur)
    row_foreach(za, V, part, bpr, [&](int64_t i, float x) {
      if (!is_finite(x)) bad_a = min(bad_a, static_cast<int>(i));
    });
  {
    const Pass1 r = block_reduce(Pass1{ms, bad_e, bad_a}, Comb());
    ms = r.ms;
    bad_e = r.bad_e;
    bad_a = r.bad_a;
  }

  if (split) {
    Partial* P = a.partials + row * bpr;
    if (threadIdx.x == 0) {
      P[part].m = ms.m;
      P[part].s = ms.s;
      P[part].bad_e = bad_e;
      P[part].bad_a = bad_a;
      __threadfence();
      atomicAdd(&a.bar[row], 1u);
      while (ld_acquire(&a.bar[row]) < static_cast<unsigned>(bpr)) __nanosleep(32);
    }
    __syncthreads();
    // Every block of the row combines the partials in the same fixed order, so all get identical values.
    MaxSum t{neg_inf(), 0.f};
    int be = INT_MAX, ba = INT_MAX;
    for (int b = threadIdx.x; b < bpr; b += kThreads) {
      t = combine(t, MaxSum{__ldcg(&P[b].m), __ldcg(&P[b].s)});
      be = min(be, __ldcg(&P[b].bad_e));
      ba = min(ba, __ldcg(&P[b].bad_a));
    }
    const Pass1 r = block_reduce(Pass1{t, be, ba}, Comb());
    ms = r.ms;
    bad_e = r.bad_e;
    bad_a = r.bad_a;
  }

  auto record_error = [&](int kind, int64_t index) {  // kind 1 expert, 2 amateur; called by thread 0
    if (a.head_size) a.head_size[row] = -kind;
    if (a.head_mass) a.head_mass[row] = qnan();
    if (a.argmax) a.argmax[row] = -1;
    atomicMin(a.err_key, (static_cast<unsigned long long>(row) << 34) |
                             (static_cast<unsigned long long>(kind - 1) << 32) |
                             static_cast<unsigned long long>(index));
  };
  auto reset_counters = [&]() {
    if (split && threadIdx.x == 0) {
      a.bar[row] = 0;
      a.done[row] = 0;
      a.hcount[row] = 0;
    }
  };

  if (bad_e != INT_MAX || bad_a != INT_MAX) {
    if (a.write_all) {
      const int64_t b = V * part / bpr, e = V * (part + 1) / bpr;
      for (int64_t i = b + threadIdx.x; i < e; i += kThreads) out[i] = qnan();
    }
    if (!finish_last(&a.done[row], bpr)) return;
    if (threadIdx.x == 0) {
      if (bad_e != INT_MAX) record_error(1, bad_e);
      else record_error(2, bad_a);
    }
    reset_counters();
    return;
  }

  const float lse = ms.m + logf(ms.s);
  float thr = ms.m + a.log_alpha;
  const bool cd = a.cd != 0;
  int* glist = split ? a.hlist + row * V : nullptr;
  int* gcount = split ? a.hcount + row : nullptr;

  auto append = [&](int64_t i) {
    if (split) append_global(gcount, glist, static_cast<int>(i));
    else append_shared(&s_count, s_list, static_cast<int>(i));
  };

  // ---- pass 2: write outside-head values, collect the head, best token outside the head ----
  __syncthreads();  // s_count initialised
  ArgBest nh{0.f, INT_MAX};
  row_foreach(ze, V, part, bpr, [&](int64_t i, float x) {
    const bool in = x >= thr;
    if (a.write_all) out[i] = (cd && !in) ? neg_inf() : x - lse;
    if (in) append(i);
    else nh = combine(nh, ArgBest{x, static_cast<int>(i)});
  });
  nh = block_reduce(nh, Comb());
  if (split && threadIdx.x == 0) {
    a.partials[row * bpr + part].nh_v = nh.v;
    a.partials[row * bpr + part].nh_idx = nh.idx;
  }
  if (!finish_last(&a.done[row], bpr)) return;

  // ---- from here on a single block finishes the row ----
  int count;
  if (split) {
    ArgBest t{0.f, INT_MAX};
    for (int b = threadIdx.x; b < bpr; b += kThreads)
      t = combine(t, ArgBest{__ldcg(&a.partials[row * bpr + b].nh_v), __ldcg(&a.partials[row * bpr + b].nh_idx)});
    nh = block_reduce(t, Comb());
    count = atomicAdd(gcount, 0);
  } else {
    __syncthreads();
    count = s_count;
  }

  // min_candidates: lower the threshold to the k-th largest expert logit (ties included) and re-collect.
  if (count < a.min_cand) {
    const uint32_t kkey = block_radix_select<uint32_t>(
        V, static_cast<uint32_t>(a.min_cand), [&](int64_t i) { return float_key(Load<T>::one(ze, i)); },
        [](int64_t) { return 1u; });
    thr = key_float(kkey);
    __syncthreads();
    if (threadIdx.x == 0) {
      if (split) *gcount = 0;
      else s_count = 0;
    }
    __syncthreads();
    ArgBest t{0.f, INT_MAX};
    row_foreach_simple(ze, V, [&](int64_t i, float x) {
      if (x >= thr) append(i);
      else t = combine(t, ArgBest{x, static_cast<int>(i)});
    });
    nh = block_reduce(t, Comb());  // includes __syncthreads, so the counters are final
    if (split) {
      count = atomicAdd(gcount, 0);
    } else {
      count = s_count;
    }
  }
  if (threadIdx.x == 0) s_thr = thr;

  const bool use_list = split || count <= kHeadCap;
  const int* list = split ? glist : s_list;
  const bool sparse = za == nullptr;
  const float beta = a.beta;
  auto score_of = [&](float e, float m) { return a.has_beta ? (1.f + beta) * e - beta * m : e - m; };

  // Calls f(v) for every head member, spread over the block's threads.
  auto for_head = [&](auto&& f) {
    if (use_list) {
      for (int j = threadIdx.x; j < count; j += kThreads) f(static_cast<int64_t>(split ? __ldcg(&list[j]) : list[j]));
    } else {
      row_foreach_simple(ze, V, [&](int64_t i, float x) {
        if (x >= thr) f(i);
      });
    }
  };
  auto sparse_dot_thread = [&](int64_t v) {  // one thread, whole dot (re-scan fallback only)
    const float* h = a.hidden + row * a.d;
    float acc = 0.f;
    for (int64_t k = 0; k < a.d; ++k) acc = fmaf(load_dyn(a.weight, a.wdt, v * a.d + k), h[k], acc);
    if (a.bias) acc += load_dyn(a.bias, a.wdt, v);
    return acc;
  };

  // ---- head scores (kept in the output row), their max, the expert mass of the head ----
  float smax = neg_inf();
  unsigned long long massq = 0;
  int bad = INT_MAX;
  auto take = [&](int64_t v, float zav) {
    if (!is_finite(zav)) {
      bad = min(bad, static_cast<int>(v));
      return;
    }
    const float zev = Load<T>::one(ze, v);
    const float s = score_of(zev, zav);
    out[v] = s;
    smax = fmaxf(smax, s);
    massq += __float2ull_rn(expf(zev - lse) * kMassScale);
  };
  if (sparse && use_list) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float* h = a.hidden + row * a.d;
    for (int j = warp; j < count; j += kWarps) {
      const int64_t v = split ? __ldcg(&list[j]) : list[j];
      float acc = 0.f;
      if (a.wdt == 0) {
        const float* w = static_cast<const float*>(a.weight) + v * a.d;
        for (int64_t k = lane; k < a.d; k += 32) acc = fmaf(w[k], h[k], acc);
      } else if (a.wdt == 1) {
        const __half* w = static_cast<const __half*>(a.weight) + v * a.d;
        for (int64_t k = lane; k < a.d; k += 32) acc = fmaf(__half2float(w[k]), h[k], acc);
      } else {
        const uint16_t* w = static_cast<const uint16_t*>(a.weight) + v * a.d;
        for (int64_t k = lane; k < a.d; k += 32) acc = fmaf(__uint_as_float(static_cast<uint32_t>(w[k]) << 16), h[k], acc);
      }
#pragma unroll
      for (int d = 16; d > 0; d >>= 1) acc += __shfl_xor_sync(kFull, acc, d);
      if (lane == 0) take(v, acc + (a.bias ? load_dyn(a.bias, a.wdt, v) : 0.f));
    }
  } else {
    for_head([&](int64_t v) { take(v, sparse ? sparse_dot_thread(v) : Load<T>::one(za, v)); });
  }
  {
    const HeadStats r = block_reduce(HeadStats{smax, bad, massq}, Comb());
    smax = r.smax;
    bad = r.bad;
    massq = r.massq;
  }

  if (bad != INT_MAX) {
    if (a.write_all)
      for (int64_t i = threadIdx.x; i < V; i += kThreads) out[i] = qnan();
    if (threadIdx.x == 0) record_error(2, bad);
    reset_counters();
    return;
  }

  // ---- normalise on the head and write it; fused arg-max ----
  unsigned long long zq = 0;
  for_head([&](int64_t v) { zq += __float2ull_rn(expf(out[v] - smax) * kZScale); });
  zq = block_reduce(zq, Sum());
  const float mass = static_cast<float>(static_cast<double>(massq) * (1.0 / 1099511627776.0));
  const float zsum = static_cast<float>(static_cast<double>(zq) * (1.0 / 4294967296.0));
  const float base = (cd ? 0.f : logf(mass)) - smax - logf(zsum);
  ArgBest hb{0.f, INT_MAX};
  for_head([&](int64_t v) {
    const float val = out[v] + base;
    out[v] = val;
    hb = combine(hb, ArgBest{val, static_cast<int>(v)});
  });
  hb = block_reduce(hb, Comb());
  if (threadIdx.x == 0) {
    ArgBest best = hb;
    if (!cd && nh.idx != INT_MAX) best = combine(best, ArgBest{nh.v - lse, nh.idx});
    if (a.head_size) a.head_size[row] = count;
    if (a.head_mass) a.head_mass[row] = mass;
    if (a.argmax) a.argmax[row] = best.idx;
  }
  reset_counters();
}

template <typename T>
cudaError_t launch_t(const ContrastArgs& a, int64_t rows, int bpr, cudaStream_t stream) {
  if (bpr <= 1) {
    contrast_kernel<T><<<dim3(static_cast<unsigned>(rows), 1), kThreads, 0, stream>>>(a);
    return cudaGetLastError();
  }
  ContrastArgs copy = a;
  void* args[] = {&copy};
  return cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(&contrast_kernel<T>),
                                     dim3(static_cast<unsigned>(rows), static_cast<unsigned>(bpr)), dim3(kThreads),
                                     args, 0, stream);
}

template <typename T>
int occupancy_t() {
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, contrast_kernel<T>, kThreads, 0) != cudaSuccess) {
    cudaGetLastError();
    return 1;
  }
  return n > 0 ? n : 1;
}

}  // namespace
}  // namespace acc
