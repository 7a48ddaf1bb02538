// Token selection after the contrast, the native form of the decoding pipeline's chain (src/decoding):
// log-softmax -> temperature -> top-k -> top-p -> argmax or a seeded draw. The fused runtime step runs it on
// the contrasted rows so that one native call replaces the chain; tests hold the two equal token for token.
//
// The seeded generator and the draw rule are defined here once for C++ and CUDA (header-only, usable from
// device code) and restated in TypeScript (src/decoding/random.ts); a test checks all three against an
// independent Python restatement.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__CUDACC__)
#define AC_HD __host__ __device__
#else
#define AC_HD
#endif

namespace ac {

// xoshiro128** (Blackman & Vigna) seeded through splitmix32. `stream` gives independent sequences for the rows
// of one request, so a row's draws never depend on which other rows share the batch or have finished.
struct SeededRandom {
  uint32_t s[4];

  AC_HD static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

  // `seed`: any integer of the API's range (|seed| < 2^53); its low and high 32-bit words are mixed with the
  // stream. Seed < 2^32 on stream 0 gives the plain splitmix32 seeding.
  AC_HD static SeededRandom make(int64_t seed, uint32_t stream) {
    const uint32_t lo = static_cast<uint32_t>(static_cast<uint64_t>(seed));
    const uint32_t hi = static_cast<uint32_t>(static_cast<uint64_t>(seed >> 32));  // floor(seed / 2^32) mod 2^32
    uint32_t x = lo ^ (hi * 0x85ebca6bu) ^ (stream * 0xc2b2ae35u);
    auto next = [&x]() -> uint32_t {
      x += 0x9e3779b9u;
      uint32_t z = x;
      z = (z ^ (z >> 16)) * 0x85ebca6bu;
      z = (z ^ (z >> 13)) * 0xc2b2ae35u;
      return z ^ (z >> 16);
    };
    SeededRandom r{};
    r.s[0] = next() | 1u;
    r.s[1] = next();
    r.s[2] = next();
    r.s[3] = next();
    return r;
  }

  AC_HD uint32_t next_u32() {
    const uint32_t result = rotl(s[1] * 5u, 7) * 9u;
    const uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  // A double in [0, 1) with 32 random bits.
  AC_HD double next() { return static_cast<double>(next_u32()) / 4294967296.0; }
};

// The draw rule. Weights w_i = exp(x_i - max) in double; the row is cut into kDrawChunks chunks of
// ceil(V / kDrawChunks) tokens, each summed left to right, and the chunk sums are added left to right into
// the total (a GPU block of kDrawChunks threads computes exactly the same sums). target = u * total; the
// token is the first i, walking from the first chunk whose running sum exceeds the target, at which the
// running sum exceeds it; rounding that leaves no such token picks the last allowed one.
constexpr int kDrawChunks = 256;

AC_HD inline int64_t draw_chunk_size(int64_t V) { return (V + kDrawChunks - 1) / kDrawChunks; }

// `chunk_sums[c]` as the rule defines them; returns the index drawn (-1 when every entry is -inf).
AC_HD inline int64_t draw_from_chunks(const float* x, int64_t V, float m, const double* chunk_sums, double u) {
  const int64_t size = draw_chunk_size(V);
  double total = 0;
  for (int c = 0; c < kDrawChunks; ++c) total += chunk_sums[c];
  const double target = u * total;
  double acc = 0;
  int c = 0;
  while (c < kDrawChunks - 1 && !(acc + chunk_sums[c] > target)) acc += chunk_sums[c++];
  int64_t last = -1;
  for (int64_t i = c * size; i < V; ++i) {
    if (x[i] == -INFINITY) continue;
    last = i;
    acc += exp(static_cast<double>(x[i]) - static_cast<double>(m));
    if (acc > target) return i;
  }
  if (last >= 0) return last;
  for (int64_t i = V - 1; i >= 0; --i)
    if (x[i] != -INFINITY) return i;
  return -1;
}

// Host form of the draw: the chunk sums, then draw_from_chunks.
inline int64_t draw_index(const float* x, int64_t V, double u) {
  float m = -INFINITY;
  for (int64_t i = 0; i < V; ++i)
    if (x[i] > m) m = x[i];
  if (m == -INFINITY) return -1;
  double sums[kDrawChunks];
  const int64_t size = draw_chunk_size(V);
  for (int c = 0; c < kDrawChunks; ++c) {
    double s = 0;
    const int64_t b = c * size, e = b + size < V ? b + size : V;
    for (int64_t i = b; i < e; ++i) s += exp(static_cast<double>(x[i]) - static_cast<double>(m));
    sums[c] = s;
  }
  return draw_from_chunks(x, V, m, sums, u);
}

// What the fused step selects with (the chain's sampling options; method 0 = argmax).
struct SelectOptions {
  bool sample = false;       // false: argmax (greedy)
  double temperature = 1.0;  // divides the log-probabilities (as the chain: float(x / t))
  int64_t top_k = 0;         // 0 or >= V: off; ties with the k-th value are kept
  double top_p = 1.0;        // >= 1: off
};

// One row: `lp` holds the contrasted scores and becomes their log-softmax (the chain's distribution, which is
// what generation reports per token). Returns the selected token (-1 when every entry is -inf); `scratch`
// (V floats) and `order` are reused between calls. `rng` is advanced once when sampling.
int64_t select_row(float* lp, int64_t V, const SelectOptions& o, SeededRandom* rng, std::vector<float>& scratch,
                   std::vector<int32_t>& order);

}  // namespace ac
