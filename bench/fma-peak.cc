// The machine's float32 multiply-add peak, for the arithmetic in bench/results/dola-profile.md: 12 independent
// chains of 512-bit FMAs (enough to cover the FMA latency) on 1 and on every core. Not part of npm test.
// Build and run: g++ -O2 -mavx512f -pthread bench/fma-peak.cc -o /tmp/fma-peak && /tmp/fma-peak
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

float chains(long iters) {
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-4f);
  __m512 a0 = _mm512_set1_ps(0.f), a1 = _mm512_set1_ps(1e-3f), a2 = _mm512_set1_ps(2e-3f), a3 = _mm512_set1_ps(3e-3f),
         a4 = _mm512_set1_ps(4e-3f), a5 = _mm512_set1_ps(5e-3f), a6 = _mm512_set1_ps(6e-3f), a7 = _mm512_set1_ps(7e-3f),
         a8 = _mm512_set1_ps(8e-3f), a9 = _mm512_set1_ps(9e-3f), a10 = _mm512_set1_ps(1e-2f), a11 = _mm512_set1_ps(1.1e-2f);
  for (long n = 0; n < iters; ++n) {
    a0 = _mm512_fmadd_ps(a0, x, y); a1 = _mm512_fmadd_ps(a1, x, y); a2 = _mm512_fmadd_ps(a2, x, y);
    a3 = _mm512_fmadd_ps(a3, x, y); a4 = _mm512_fmadd_ps(a4, x, y); a5 = _mm512_fmadd_ps(a5, x, y);
    a6 = _mm512_fmadd_ps(a6, x, y); a7 = _mm512_fmadd_ps(a7, x, y); a8 = _mm512_fmadd_ps(a8, x, y);
    a9 = _mm512_fmadd_ps(a9, x, y); a10 = _mm512_fmadd_ps(a10, x, y); a11 = _mm512_fmadd_ps(a11, x, y);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}

}  // namespace

int main() {
  const long iters = 200000000;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned th : {1u, cores}) {
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> ts;
      std::vector<float> sink(th);
      for (unsigned t = 0; t < th; ++t) ts.emplace_back([&, t] { sink[t] = chains(iters); });
      for (auto& t : ts) t.join();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      if (sink[0] == 12345.f) std::printf(" ");
    }
    const double fma = iters * 12.0 * th / best;
    std::printf("%u thread(s): %.2f G 512-bit FMA/s = %.1f G float32 multiply-adds/s (%.2f G FMA/s per core)\n", th,
                fma / 1e9, fma * 16 / 1e9, fma / th / 1e9);
  }
}
