// The row algorithm shared by every instruction set. contrast_row runs the vectorised pipeline of the Ops table
// (head_ops.inc); contrast_row_reference finishes the head token by token in double precision and is what the
// tests compare the pipeline against.
#include "contrast.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "load.h"
#include "parallel.h"

namespace ac {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

size_t first_non_finite(const void* z, DType dt, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(load_one(z, dt, i))) return i;
  return n;
}

// k-th largest expert logit (k >= 1), by selection on a float copy.
float kth_largest(const void* z, DType dt, size_t n, size_t k, std::vector<float>& buf) {
  buf.resize(n);
  for (size_t i = 0; i < n; ++i) buf[i] = load_one(z, dt, i);
  std::nth_element(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(k - 1), buf.end(),
                   std::greater<float>());
  return buf[k - 1];
}

float amateur_logit(const void* amateur, const SparseAmateur* sparse, DType dt, size_t v, const Ops& ops) {
  if (amateur) return load_one(amateur, dt, v);
  const void* row = offset_row(sparse->weight, sparse->weight_dtype, v * sparse->d);
  float z = ops.dot(row, sparse->weight_dtype, sparse->hidden, sparse->d);
  if (sparse->bias) z += load_one(sparse->bias, sparse->weight_dtype, v);
  return z;
}

}  // namespace

RowStats contrast_row_reference(const Ops& ops, const void* expert, const void* amateur,
                                const SparseAmateur* sparse, DType dt, size_t V, const Params& p, float* out,
                                Scratch& scratch) {
  float m = 0.f, s = 0.f;
  if (!ops.max_sumexp(expert, dt, V, &m, &s))
    throw KernelError{KernelError::kNonFiniteExpert, 0, first_non_finite(expert, dt, V)};
  if (amateur && !ops.all_finite(amateur, dt, V))
    throw KernelError{KernelError::kNonFiniteAmateur, 0, first_non_finite(amateur, dt, V)};

  const float lse = m + std::log(s);
  // p_e[v] >= alpha * max p_e  <=>  z_e[v] >= max z_e + ln(alpha); alpha = 0 admits every token. Decided on the
  // logits, ties included: float32 probabilities (as the reference computes them) can drop a token a few ulp above
  // the cut-off, this comparison does not (docs/determinism.md, test/kernel/threshold-ulp.test.mjs).
  float thr = p.alpha > 0.f ? m + std::log(p.alpha) : kNegInf;
  const bool cd = p.mode == Mode::CD;

  if (scratch.head.size() < V) scratch.head.resize(V);
  int32_t* head = scratch.head.data();
  size_t count = ops.write_collect(expert, dt, V, lse, thr, cd, out, head);
  const size_t k = static_cast<size_t>(p.min_candidates);
  if (count < k) {
    // The reference's minimum_candidates: lower the threshold to the k-th largest probability.
    thr = kth_largest(expert, dt, V, k, scratch.values);
    count = ops.write_collect(expert, dt, V, lse, thr, cd, out, head);
  }

  // Contrast scores on the head; the amateur's normaliser cancels (shift invariance), so raw logits suffice.
  if (scratch.scores.size() < count) scratch.scores.resize(count);
  double* score = scratch.scores.data();
  double smax = -std::numeric_limits<double>::infinity();
  double mass = 0.0;
  for (size_t j = 0; j < count; ++j) {
    const size_t v = static_cast<size_t>(head[j]);
    const double ze = load_one(expert, dt, v);
    const float za_f = amateur_logit(amateur, sparse, dt, v, ops);
    if (!std::isfinite(za_f)) throw KernelError{KernelError::kNonFiniteAmateur, 0, v};
    const double za = za_f;
    score[j] = p.has_beta ? (1.0 + p.beta) * ze - static_cast<double>(p.beta) * za : ze - za;
    smax = std::max(smax, score[j]);
    mass += std::exp(ze - static_cast<double>(lse));
  }
  double z = 0.0;
  for (size_t j = 0; j < count; ++j) z += std::exp(score[j] - smax);
  const double base = (cd ? 0.0 : std::log(mass)) - smax - std::log(z);
  for (size_t j = 0; j < count; ++j) out[head[j]] = static_cast<float>(score[j] + base);

  RowStats st;
  st.head_size = static_cast<int32_t>(count);
  st.head_mass = static_cast<float>(mass);
  return st;
}

// The vectorised row (each step is one Ops call; head_ops.inc holds them):
//   1. max_finite: m = max z_e (and every expert value finite); the head threshold follows from m.
//   2. With a dense amateur, dense_pass: one read of both rows for S = sum exp(z_e - m), the head's share of S (the
//      mass: no exp of its own), the head size, the amateur's finiteness, and, over the blocks dense in head
//      tokens, the max head score smax and the head's normaliser z = sum exp(s - smax). With the sparse amateur (logits only for head tokens), sumexp_head: S, the
//      mass and the head size. lse = m + ln S.
//   Then either, for a large head (more than V/16 tokens) with a dense amateur whose z covered it all:
//   3. finish_dense: one write pass, (s - smax) + ln mass - ln z on the head, z_e - lse (or -inf for CD) elsewhere;
//   or, for a small head or the sparse amateur:
//   3. collect: z_e - lse (or -inf) over the row, and the head's indices;
//   4. the head on packed float arrays: logits gathered (or, sparse, dot products), scores, their normaliser,
//      and the final values scattered into place.
// minCandidates: only when the head is smaller than k is the k-th largest logit selected (a copy of the row), and
// step 2 repeated with that threshold.
// A head of the whole row (alpha 0; every expert logit at or above the threshold, which the max pass's min tells;
// or k = V) with a dense amateur takes a shorter path: its mass is 1 and no token is outside it, so neither the
// expert's normaliser nor its exponentials are needed. full_head writes the scores into out with their max and
// normaliser (one exp per token, one read of each row), and shift turns them into (s - smax) - ln z in place, the
// values finish_dense would write (log mass = 0). alpha 0 skips the max pass too. Non-finite data makes full_head
// return false, and the general path then reports it.
RowStats contrast_row(const Ops& ops, const void* expert, const void* amateur, const SparseAmateur* sparse,
                      DType dt, size_t V, const Params& p, float* out, Scratch& scratch, const void* next_expert) {
  const bool cd = p.mode == Mode::CD;
  CollectArgs a;
  a.cd = cd;
  a.ce = p.has_beta ? 1.f + p.beta : 1.f;
  a.ca = p.has_beta ? p.beta : 1.f;
  const size_t k = static_cast<size_t>(p.min_candidates);
  a.pf_out = out;
  a.pf_next = next_expert;
  auto whole_head = [&](RowStats* st) {
    float smax = 0.f;
    double z = 0.0;
    if (!ops.full_head(expert, amateur, dt, V, a, out, &smax, &z)) return false;
    ops.shift(out, V, smax, static_cast<float>(-std::log(z)));
    st->head_size = static_cast<int32_t>(V);
    st->head_mass = 1.f;
    return true;
  };
  RowStats whole;
  if (amateur && (p.alpha <= 0.f || k >= V) && whole_head(&whole)) return whole;

  float m = 0.f, lo = 0.f;
  if (!ops.max_finite(expert, dt, V, &m, &lo))
    throw KernelError{KernelError::kNonFiniteExpert, 0, first_non_finite(expert, dt, V)};
  // Same threshold expression as the reference, so both find exactly the same head.
  a.thr = p.alpha > 0.f ? m + std::log(p.alpha) : kNegInf;
  if (amateur && lo >= a.thr && whole_head(&whole)) return whole;

  DenseStats ds;
  if (amateur) {
    ops.dense_pass(expert, amateur, dt, V, m, a, &ds);
    if (!ds.amateur_finite) throw KernelError{KernelError::kNonFiniteAmateur, 0, first_non_finite(amateur, dt, V)};
    if (ds.count < k) {
      a.thr = kth_largest(expert, dt, V, k, scratch.values);
      ops.dense_pass(expert, amateur, dt, V, m, a, &ds);
    }
  } else {
    ds.total = ops.sumexp_head(expert, dt, V, m, a.thr, &ds.head_sum, &ds.count);
    if (ds.count < k) {
      a.thr = kth_largest(expert, dt, V, k, scratch.values);
      ops.sumexp_head(expert, dt, V, m, a.thr, &ds.head_sum, &ds.count);
    }
  }
  const size_t count = ds.count;
  const double mass = ds.head_sum / ds.total;
  a.lse = static_cast<float>(static_cast<double>(m) + std::log(ds.total));
  RowStats st;
  st.head_size = static_cast<int32_t>(count);
  st.head_mass = static_cast<float>(mass);
  const double log_mass = cd ? 0.0 : std::log(mass);

  // Above about V/16 scattered tokens, a write pass over both rows costs less than a gather and a scatter; it needs
  // the whole head's normaliser from dense_pass (which leaves sparse blocks to the packed path).
  if (amateur && count > std::max<size_t>(V / kDenseShare, 64) && ds.z_complete) {
    ops.finish_dense(expert, amateur, dt, V, a, ds.smax, static_cast<float>(log_mass - std::log(ds.z)), out);
    return st;
  }

  a.cap = count;
  if (scratch.head.size() < count) scratch.head.resize(count);
  int32_t* head = scratch.head.data();
  ops.collect(expert, dt, V, a, out, head);
  if (scratch.values.size() < count) scratch.values.resize(count);
  if (scratch.expert_head.size() < count) scratch.expert_head.resize(count);
  if (scratch.amateur_head.size() < count) scratch.amateur_head.resize(count);
  float* s = scratch.values.data();
  float* ze = scratch.expert_head.data();
  float* za = scratch.amateur_head.data();
  for (size_t j = 0; j < count; ++j) {
    const size_t v = static_cast<size_t>(head[j]);
    ze[j] = load_one(expert, dt, v);
    za[j] = amateur_logit(amateur, sparse, dt, v, ops);
    if (!std::isfinite(za[j])) throw KernelError{KernelError::kNonFiniteAmateur, 0, v};
  }
  const float smax = ops.scores(ze, za, count, a.ce, a.ca, s);
  const double z = ops.sum_exp(s, count, smax);
  ops.scatter_shift(s, head, count, smax, static_cast<float>(log_mass - std::log(z)), out);
  return st;
}

void contrast_batch(const Ops& ops, const Batch& b, const Params& p, int threads) {
  const bool sparse = b.sparse.weight != nullptr;
  parallel_for(b.rows, threads, [&](size_t begin, size_t end) {
    thread_local Scratch scratch;
    for (size_t r = begin; r < end; ++r) {
      SparseAmateur sp = b.sparse;
      if (sparse) sp.hidden = b.sparse.hidden + r * b.sparse.d;
      try {
        const RowStats st = contrast_row(ops, offset_row(b.expert, b.dtype, r * b.vocab),
                                         sparse ? nullptr : offset_row(b.amateur, b.dtype, r * b.vocab),
                                         sparse ? &sp : nullptr, b.dtype, b.vocab, p, b.out + r * b.vocab, scratch,
                                         r + 1 < end ? offset_row(b.expert, b.dtype, (r + 1) * b.vocab) : nullptr);
        if (b.stats) b.stats[r] = st;
      } catch (KernelError& e) {
        e.row = r;
        throw;
      }
    }
  });
}

}  // namespace ac
