// Token selection on log-probability rows: arg-max, top-k / top-p sampling, and per-beam top-k candidates.
// One 256-thread block per row. Sampling uses the project's one generator and draw rule
// (native/kernels/select.h): the host draws one uniform per row with ac::SeededRandom, and the block computes
// the rule's chunk sums (thread c sums chunk c left to right, as the host does) before thread 0 walks to the
// token with ac::draw_from_chunks, so the same inputs give the host's token.
#include "../../kernels/select.h"
#include "device_common.cuh"
#include "kernels.h"

static_assert(acc::kThreads == ac::kDrawChunks, "one thread per chunk of the draw rule");

namespace acc {
namespace {

constexpr int kBeamMax = 1024;

// ac::draw_from_chunks on the filtered, tempered row without materialising it (same arithmetic).
__device__ int64_t draw_filtered(const float* x, int64_t V, uint32_t thr, double t, float m, const double* sums,
                                 double u) {
  const int64_t size = ac::draw_chunk_size(V);
  double total = 0;
  for (int c = 0; c < ac::kDrawChunks; ++c) total += sums[c];
  const double target = u * total;
  double acc = 0;
  int c = 0;
  while (c < ac::kDrawChunks - 1 && !(acc + sums[c] > target)) acc += sums[c++];
  int64_t last = -1;
  for (int64_t i = c * size; i < V; ++i) {
    const float v0 = x[i];
    if (v0 == neg_inf() || float_key(v0) < thr) continue;
    const float v = static_cast<float>(static_cast<double>(v0) / t);
    last = i;
    acc += exp(static_cast<double>(v) - static_cast<double>(m));
    if (acc > target) return i;
  }
  if (last >= 0) return last;
  for (int64_t i = V - 1; i >= 0; --i)
    if (x[i] != neg_inf() && float_key(x[i]) >= thr) return i;
  return -1;
}

__device__ __forceinline__ bool bad_logprob(float x) {  // NaN or +inf; -inf is a valid log-probability
  return x != x || x == __int_as_float(0x7f800000);
}

__global__ void __launch_bounds__(kThreads) select_kernel(SelectArgs a) {
  const int64_t row = blockIdx.x;
  const int64_t V = a.V;
  const float* x = a.lp + row * V;

  ArgBest best{0.f, INT_MAX};
  int bad = INT_MAX;
  row_foreach(x, V, 0, 1, [&](int64_t i, float v) {
    if (bad_logprob(v)) bad = min(bad, static_cast<int>(i));
    else best = combine(best, ArgBest{v, static_cast<int>(i)});
  });
  best = block_reduce(best, Comb());
  bad = block_reduce(bad, Min());
  if (bad != INT_MAX) {
    if (threadIdx.x == 0) {
      a.tokens[row] = -1;
      atomicMin(a.err_key, (static_cast<unsigned long long>(row) << 34) | (2ull << 32) |
                               static_cast<unsigned long long>(bad));
    }
    return;
  }
  if (a.method == 0 || best.v == neg_inf()) {  // arg-max (or a row with no finite entry)
    if (threadIdx.x == 0) a.tokens[row] = best.idx;
    return;
  }

  uint32_t thr = 0;  // key threshold: candidates have float_key(x) >= thr
  if (a.top_k > 0 && a.top_k < V)
    thr = block_radix_select<uint32_t>(
        V, static_cast<uint32_t>(a.top_k), [&](int64_t i) { return float_key(x[i]); }, [](int64_t) { return 1u; });

  if (a.top_p < 1.f) {
    // Tempered, unnormalised probabilities in 2^-32 fixed point: integer sums are exact and monotone, so the
    // nucleus boundary is well defined whatever the summation order.
    const float m = best.v, it = a.inv_t;
    auto weight = [&](int64_t i) -> unsigned long long {
      const float v = x[i];
      if (float_key(v) < thr) return 0ull;
      return __float2ull_rn(expf((v - m) * it) * 4294967296.f);
    };
    unsigned long long tot = 0;
    for (int64_t i = threadIdx.x; i < V; i += kThreads) tot += weight(i);
    tot = block_reduce(tot, Sum());
    unsigned long long target = static_cast<unsigned long long>(ceil(static_cast<double>(a.top_p) * static_cast<double>(tot)));
    if (target < 1) target = 1;
    if (target > tot) target = tot;
    const uint32_t pk = block_radix_select<unsigned long long>(
        V, target, [&](int64_t i) { return float_key(x[i]); }, weight);
    thr = max(thr, pk);
  }

  // The tempered, filtered row as the CPU chain has it (float(x / t) in double; -inf outside the filters),
  // its maximum, then the draw rule's chunk sums.
  const double t = a.temperature;
  auto kept = [&](int64_t i) -> float {
    const float v = x[i];
    if (v == neg_inf() || float_key(v) < thr) return neg_inf();
    return static_cast<float>(static_cast<double>(v) / t);
  };
  float m = neg_inf();
  for (int64_t i = threadIdx.x; i < V; i += kThreads) m = fmaxf(m, kept(i));
  m = block_reduce(m, Max());
  __shared__ double sums[kThreads];
  const int64_t size = ac::draw_chunk_size(V);
  double s = 0;
  for (int64_t i = threadIdx.x * size, e = min(V, (threadIdx.x + 1) * size); i < e; ++i) {
    const float v = kept(i);
    if (v != neg_inf()) s += exp(static_cast<double>(v) - static_cast<double>(m));
  }
  sums[threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    // Thread 0 walks the (few) tokens of the crossing chunk on the filtered row it re-derives on the fly.
    const int64_t tok = draw_filtered(x, V, thr, t, m, sums, a.uniforms[row]);
    a.tokens[row] = tok >= 0 ? static_cast<int32_t>(tok) : best.idx;
  }
}

__global__ void __launch_bounds__(kThreads) beam_kernel(BeamArgs a) {
  const int64_t row = blockIdx.x;
  const int64_t V = a.V;
  const int K = a.k;
  const float* x = a.lp + row * V;
  __shared__ unsigned long long cand[kBeamMax];
  __shared__ int s_n;

  int bad = INT_MAX;
  row_foreach(x, V, 0, 1, [&](int64_t i, float v) {
    if (bad_logprob(v)) bad = min(bad, static_cast<int>(i));
  });
  bad = block_reduce(bad, Min());
  if (bad != INT_MAX) {
    for (int j = threadIdx.x; j < K; j += kThreads) {
      a.vals[row * K + j] = qnan();
      a.idx[row * K + j] = -1;
    }
    if (threadIdx.x == 0)
      atomicMin(a.err_key, (static_cast<unsigned long long>(row) << 34) | (2ull << 32) |
                               static_cast<unsigned long long>(bad));
    return;
  }

  const uint32_t kkey = block_radix_select<uint32_t>(
      V, static_cast<uint32_t>(K), [&](int64_t i) { return float_key(x[i]); }, [](int64_t) { return 1u; });
  if (threadIdx.x == 0) s_n = 0;
  __syncthreads();
  // Strictly above the k-th key: fewer than K of them, any order (sorted below).
  for (int64_t i = threadIdx.x; i < V; i += kThreads) {
    const uint32_t k = float_key(x[i]);
    if (k > kkey) {
      const int pos = atomicAdd(&s_n, 1);
      cand[pos] = (static_cast<unsigned long long>(k) << 32) | static_cast<uint32_t>(~static_cast<uint32_t>(i));
    }
  }
  __syncthreads();
  const int n_gt = s_n;
  const int need = K - n_gt;
  // Ties at the k-th key, lowest indices first: each thread owns a contiguous chunk, counts its ties, and an
  // exclusive scan gives the rank of its first tie.
  const int64_t chunk = (V + kThreads - 1) / kThreads;
  const int64_t cb = min(V, chunk * threadIdx.x), ce = min(V, cb + chunk);
  int mine = 0;
  for (int64_t i = cb; i < ce; ++i) mine += float_key(x[i]) == kkey;
  int total = 0;
  int rank = block_exclusive_scan(mine, &total);
  for (int64_t i = cb; i < ce && rank < need; ++i) {
    if (float_key(x[i]) == kkey) {
      cand[n_gt + rank] = (static_cast<unsigned long long>(kkey) << 32) | static_cast<uint32_t>(~static_cast<uint32_t>(i));
      ++rank;
    }
  }
  int P = 1;
  while (P < K) P <<= 1;
  for (int j = K + threadIdx.x; j < P; j += kThreads) cand[j] = 0ull;  // below every real entry
  __syncthreads();
  // Bitonic sort, descending: larger key first, then lower index (stored complemented).
  for (int k = 2; k <= P; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int i = threadIdx.x; i < P; i += kThreads) {
        const int ixj = i ^ j;
        if (ixj > i) {
          const unsigned long long p = cand[i], q = cand[ixj];
          const bool desc = (i & k) == 0;
          if (desc ? (p < q) : (p > q)) {
            cand[i] = q;
            cand[ixj] = p;
          }
        }
      }
      __syncthreads();
    }
  }
  for (int j = threadIdx.x; j < K; j += kThreads) {
    const int idx = static_cast<int>(~static_cast<uint32_t>(cand[j]));
    a.idx[row * K + j] = idx;
    a.vals[row * K + j] = x[idx];
  }
}

}  // namespace

cudaError_t launch_select(const SelectArgs& a, int64_t rows, cudaStream_t stream) {
  select_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

cudaError_t launch_beam(const BeamArgs& a, int64_t rows, cudaStream_t stream) {
  beam_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace acc
