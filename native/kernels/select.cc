// The chain of src/decoding (processors.ts, select.ts) restated for the fused runtime step; see select.h.
// Every arithmetic step matches the TypeScript: float32 rows, double sums in the same order, the same ties.
#include "select.h"

#include <algorithm>
#include <numeric>

namespace ac {

namespace {

// In-place log-softmax (rows that are all -inf stay as they are), as logSoftmaxInPlace.
void log_softmax(float* x, int64_t V) {
  float m = -INFINITY;
  for (int64_t i = 0; i < V; ++i)
    if (x[i] > m) m = x[i];
  if (m == -INFINITY) return;
  double s = 0;
  for (int64_t i = 0; i < V; ++i) s += std::exp(static_cast<double>(x[i]) - static_cast<double>(m));
  const double lse = static_cast<double>(m) + std::log(s);
  for (int64_t i = 0; i < V; ++i) x[i] = static_cast<float>(static_cast<double>(x[i]) - lse);
}

int64_t argmax(const float* x, int64_t V) {
  int64_t best = 0;
  for (int64_t i = 1; i < V; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

// Keeps the k highest values and every value tied with the k-th (the k-th largest of the row, ties counted).
void top_k(float* x, int64_t V, int64_t k, std::vector<float>& tmp) {
  if (k <= 0 || k >= V) return;
  tmp.assign(x, x + V);
  std::nth_element(tmp.begin(), tmp.begin() + (V - k), tmp.end());
  const float kth = tmp[static_cast<size_t>(V - k)];
  for (int64_t i = 0; i < V; ++i)
    if (x[i] < kth) x[i] = -INFINITY;
}

// Nucleus: the allowed tokens by descending value (ties: lower index first), kept until their normalised mass
// reaches p (the token that crosses p is kept).
void top_p(float* x, int64_t V, double p, std::vector<int32_t>& order) {
  if (p >= 1) return;
  order.clear();
  for (int64_t i = 0; i < V; ++i)
    if (x[i] > -INFINITY) order.push_back(static_cast<int32_t>(i));
  if (order.empty()) return;
  std::stable_sort(order.begin(), order.end(), [x](int32_t a, int32_t b) { return x[a] > x[b]; });
  const double m = x[order[0]];
  double total = 0;
  for (int32_t i : order) total += std::exp(static_cast<double>(x[i]) - m);
  double cum = 0;
  size_t keep = 0;
  for (int32_t i : order) {
    ++keep;
    cum += std::exp(static_cast<double>(x[i]) - m) / total;
    if (cum >= p && keep >= 1) break;
  }
  // Everything after the kept prefix leaves the distribution.
  for (size_t j = keep; j < order.size(); ++j) x[order[j]] = -INFINITY;
}

}  // namespace

int64_t select_row(float* lp, int64_t V, const SelectOptions& o, SeededRandom* rng, std::vector<float>& scratch,
                   std::vector<int32_t>& order) {
  log_softmax(lp, V);
  if (!o.sample) {
    const int64_t t = argmax(lp, V);
    return lp[t] == -INFINITY ? -1 : t;
  }
  scratch.assign(lp, lp + V);
  float* s = scratch.data();
  if (o.temperature != 1.0)
    for (int64_t i = 0; i < V; ++i) s[i] = static_cast<float>(static_cast<double>(s[i]) / o.temperature);
  thread_local std::vector<float> tmp;  // top-k's selection copy, reused across rows and steps
  top_k(s, V, o.top_k, tmp);
  top_p(s, V, o.top_p, order);
  const double u = rng->next();
  return draw_index(s, V, u);
}

}  // namespace ac
