// Layer selection by divergence (see dola.h): the scalar passes, which the tests compare the SIMD ones against,
// and the request driver shared by every instruction set.
#include "dola.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "load.h"
#include "parallel.h"

namespace ac {
namespace dola {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr size_t kVocabBlock = 64;  // head rows per parallel task (a multiple of every micro-tile height)

// --- scalar passes ---

void project_scalar(const void* W, DType wdt, size_t v0, size_t nv, size_t d, const float* const* H, size_t nh,
                    float* const* out) {
  const size_t esz = dtype_size(wdt);
  const char* base = static_cast<const char*>(W);
  for (size_t v = v0; v < v0 + nv; ++v) {
    const void* wv = base + (v - v0) * d * esz;
    for (size_t h = 0; h < nh; ++h) {
      float s = 0.f;
      for (size_t i = 0; i < d; ++i) s += load_one(wv, wdt, i) * H[h][i];
      out[h][v] = s;
    }
  }
}

// The per-token divergence term; p_e and q_e are the probabilities, lp and lq their logarithms, s = p + q.
inline double term(double lp, double p, double lq, double q, Divergence kind) {
  const double s = p + q;
  if (!(s > 0.0)) return 0.0;  // both underflowed: M = 0 contributes nothing (0 log 0 = 0)
  const double lm = std::log(s) - 0.6931471805599453;
  if (kind == Divergence::kDolaCode) return 0.25 * s * (2.0 * lm - lp - lq);
  return 0.5 * (p * (lp - lm) + q * (lq - lm));
}

double divergence_scalar(const float* zf, float lse_f, const float* p, const float* zc, float lse_c, size_t V,
                         Divergence kind) {
  double acc = 0.0;
  for (size_t v = 0; v < V; ++v) {
    const float lq = zc[v] - lse_c;
    acc += term(static_cast<double>(zf[v] - lse_f), p[v], lq, std::exp(lq), kind);
  }
  return acc;
}

void exp_shift_scalar(const float* z, float lse, size_t V, float* p) {
  for (size_t v = 0; v < V; ++v) p[v] = std::exp(z[v] - lse);
}

void dequant_q8_scalar(const int8_t* q, const float* scale, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(q[i]) * scale[i / 32];
}

const DolaOps kScalar{"scalar", project_scalar, divergence_scalar, exp_shift_scalar, dequant_q8_scalar, nullptr};

size_t first_non_finite_f32(const float* z, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(z[i])) return i;
  return 0;
}

// Per-thread working memory of the row pass.
struct RowScratch {
  std::vector<float> p;       // the final layer's probabilities
  std::vector<float> values;  // k-th largest search
  Scratch contrast;           // contrast_row's
};

// Writes DoLa's scores for one row: lp - lq on the head, -inf elsewhere; returns the head statistics.
RowStats dola_row(const float* zf, float lse_f, float max_f, const float* zc, float lse_c, size_t V,
                  const Params& prm, const float* p, float* out, std::vector<float>& values) {
  // transformers: scores_normalized < max + log(relative_top) are filtered, with the threshold lowered to the
  // min_tokens_to_keep-th largest; the comparison is on log-probabilities, as here.
  const float lmax = max_f - lse_f;
  float thr = prm.alpha > 0.f ? lmax + static_cast<float>(std::log(static_cast<double>(prm.alpha))) : kNegInf;
  const size_t k = static_cast<size_t>(std::max<int32_t>(prm.min_candidates, 1));
  if (k > 1) {
    size_t count = 0;
    for (size_t v = 0; v < V; ++v) count += (zf[v] - lse_f) >= thr;
    if (count < k) {
      values.resize(V);
      for (size_t v = 0; v < V; ++v) values[v] = zf[v] - lse_f;
      std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k - 1), values.end(),
                       std::greater<float>());
      thr = std::min(thr, values[k - 1]);
    }
  }
  RowStats st;
  double mass = 0.0;
  for (size_t v = 0; v < V; ++v) {
    const float lp = zf[v] - lse_f;
    if (lp >= thr) {
      out[v] = lp - (zc[v] - lse_c);
      ++st.head_size;
      mass += p[v];
    } else {
      out[v] = kNegInf;
    }
  }
  st.head_mass = static_cast<float>(mass);
  return st;
}

}  // namespace

const DolaOps& dola_scalar_ops() { return kScalar; }

const DolaOps& dola_ops_for(const Ops& ops) {
  if (std::strcmp(ops.name, "avx512") == 0) {
    if (const DolaOps* d = dola_avx512_ops()) return *d;
  }
  if (std::strcmp(ops.name, "avx2") == 0 || std::strcmp(ops.name, "avx512") == 0) {
    if (const DolaOps* d = dola_avx2_ops()) return *d;
  }
  return kScalar;
}

namespace {

// Per 64-row vocabulary block and hidden row: the block's max and sum of exp(z - max) (Ops::max_sumexp), taken
// while the block's logits are still in cache, so the log-sum-exp of a candidate row needs no pass of its own.
// A non-finite logit leaves NaN as the block's max (the caller then re-reads the row to report it).
struct BlockStats {
  const Ops* ops = nullptr;
  float* max = nullptr;  // [blocks x n]
  float* sum = nullptr;  // [blocks x n]
};

// Projects head rows [0, V) of n output rows in 64-row vocabulary blocks spread over the threads: project_range(v0,
// v1) writes rows [v0, v1) of every out[h]; then the bias and, with st.ops, the blocks' statistics are taken while
// the block is in cache. `work` (multiply-adds) decides whether threads are worth it.
template <class F>
void project_blocks_with(size_t V, size_t n, size_t work, int threads, const void* bias, DType bias_dt,
                         float* const* out, const BlockStats& st, const F& project_range) {
  const size_t blocks = (V + kVocabBlock - 1) / kVocabBlock;
  // Small products are not worth a thread hop.
  const int use = work < (size_t(1) << 16) ? 1 : threads;
  parallel_for(blocks, use, [&](size_t b0, size_t b1) {
    const size_t v0 = b0 * kVocabBlock;
    const size_t v1 = std::min(V, b1 * kVocabBlock);
    project_range(v0, v1);
    if (bias) {
      for (size_t h = 0; h < n; ++h)
        for (size_t v = v0; v < v1; ++v) out[h][v] += load_one(bias, bias_dt, v);
    }
    if (st.ops) {
      for (size_t b = b0; b < b1; ++b) {
        const size_t u0 = b * kVocabBlock, u1 = std::min(V, u0 + kVocabBlock);
        for (size_t h = 0; h < n; ++h) {
          float m = 0.f, sum = 0.f;
          if (!st.ops->max_sumexp(out[h] + u0, DType::F32, u1 - u0, &m, &sum)) m = std::numeric_limits<float>::quiet_NaN();
          st.max[b * n + h] = m;
          st.sum[b * n + h] = sum;
        }
      }
    }
  });
}

void project_blocks(const DolaOps& dops, const void* W, DType wdt, const void* bias, size_t V, size_t d,
                    const float* const* hidden, size_t n, float* const* out, int threads, const int8_t* q8,
                    const float* q8_scale, const BlockStats& st) {
  project_blocks_with(V, n, n * V * d, threads, bias, wdt, out, st, [&](size_t v0, size_t v1) {
    if (q8 && dops.project_q8) {
      dops.project_q8(q8, q8_scale, v0, v1 - v0, d, hidden, n, out);
    } else if (q8) {
      // A block of head rows widened to float32 in L1-sized pieces, then the float32 micro-tiles over it.
      thread_local std::vector<float> rows;
      constexpr size_t kPiece = 16;
      rows.resize(kPiece * d);
      for (size_t v = v0; v < v1; v += kPiece) {
        const size_t nv = std::min(kPiece, v1 - v);
        dops.dequant_q8(q8 + v * d, q8_scale + v * d / 32, nv * d, rows.data());
        dops.project(rows.data(), DType::F32, v, nv, d, hidden, n, out);
      }
    } else {
      dops.project(static_cast<const char*>(W) + v0 * d * dtype_size(wdt), wdt, v0, v1 - v0, d, hidden, n, out);
    }
  });
}

// Hidden rows quantised for the int8 product (head_i8.h), held per thread between steps.
struct QuantisedRows {
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<int32_t> sum;
  std::vector<const int8_t*> qp;
  std::vector<const float*> sp;
  std::vector<const int32_t*> sump;

  i8::Acts quantise(const float* const* hidden, size_t n, size_t d, int threads) {
    const size_t nb = d / i8::kBlock;
    q.resize(n * d);
    scale.resize(n * nb);
    sum.resize(n * nb);
    qp.resize(n);
    sp.resize(n);
    sump.resize(n);
    parallel_for(n, n * d < (size_t(1) << 14) ? 1 : threads, [&](size_t h0, size_t h1) {
      for (size_t h = h0; h < h1; ++h) i8::quantise_row(hidden[h], d, &q[h * d], &scale[h * nb], &sum[h * nb]);
    });
    for (size_t h = 0; h < n; ++h) {
      qp[h] = &q[h * d];
      sp[h] = &scale[h * nb];
      sump[h] = &sum[h * nb];
    }
    return i8::Acts{qp.data(), sp.data(), sump.data()};
  }
};

void project_blocks_i8(const i8::I8Ops& iops, const i8::Head& w, const void* bias, DType bias_dt,
                       const float* const* hidden, size_t n, float* const* out, int threads, const BlockStats& st) {
  thread_local QuantisedRows qr;
  const i8::Acts a = qr.quantise(hidden, n, w.d, threads);
  project_blocks_with(w.rows, n, n * w.rows * w.d / 4, threads, bias, bias_dt, out, st, [&](size_t v0, size_t v1) {
    iops.project(w, v0 / i8::kTileRows, (v1 + i8::kTileRows - 1) / i8::kTileRows, a, n, out);
  });
}

}  // namespace

void project_rows(const DolaOps& dops, const void* W, DType wdt, const void* bias, size_t V, size_t d,
                  const float* const* hidden, size_t n, float* const* out, int threads, const int8_t* q8,
                  const float* q8_scale) {
  project_blocks(dops, W, wdt, bias, V, d, hidden, n, out, threads, q8, q8_scale, BlockStats{});
}

void project_rows_i8(const Ops& ops, const i8::Head& w, const void* bias, DType bias_dt, const float* const* hidden,
                     size_t n, float* const* out, int threads) {
  project_blocks_i8(i8::i8_ops_for(ops), w, bias, bias_dt, hidden, n, out, threads, BlockStats{});
}

void select_and_contrast(const Ops& ops, const Request& r, int threads) {
  const size_t R = r.rows, V = r.vocab, C = r.cand.count;
  const DolaOps& dops = dola_ops_for(ops);
  // With final_hidden, the final rows join the candidates' projection (after them) and land in final_out.
  const bool project_final = r.final_hidden != nullptr && r.cand.hidden != nullptr;
  const float* const final_logits = project_final ? r.final_out : r.final_logits;

  // 1. candidate logits, [rows x C x V]: the given ones, or one projection over all rows x candidates (and the
  // final rows with final_hidden).
  thread_local std::vector<float> buf;
  std::vector<const float*> zc(R * C);
  const size_t blocks = (V + kVocabBlock - 1) / kVocabBlock;
  const size_t P = R * C + (project_final ? R : 0);  // projected rows
  std::vector<float> bmax, bsum;  // per block and projected row: projection-time max and sum of exp
  std::vector<float> bmax2, bsum2;  // the same for the rows of a second projection (rows nA .. P - 1)
  size_t nA = P;
  if (r.cand.hidden) {
    buf.resize(R * C * V);
    std::vector<const float*> hs(P);
    std::vector<float*> outs(P);
    for (size_t row = 0; row < R; ++row)
      for (size_t c = 0; c < C; ++c) {
        hs[row * C + c] = r.cand.hidden[c] + row * r.cand.d;
        outs[row * C + c] = buf.data() + (row * C + c) * V;
        zc[row * C + c] = outs[row * C + c];
      }
    if (project_final)
      for (size_t row = 0; row < R; ++row) {
        hs[R * C + row] = r.final_hidden + row * r.cand.d;
        outs[R * C + row] = r.final_out + row * V;
      }
    // Rows [0, nA) in one projection (every row, or with int8 the rows it covers), rows [nA, P) in a second one
    // (the final rows on the faithful head when only the candidates take the int8 product).
    nA = r.cand.i8 && project_final && !r.cand.i8_final ? R * C : P;
    bmax.resize(blocks * nA);
    bsum.resize(blocks * nA);
    bmax2.resize(blocks * (P - nA));
    bsum2.resize(blocks * (P - nA));
    const BlockStats stA{&ops, bmax.data(), bsum.data()};
    if (r.cand.i8) {
      project_blocks_i8(i8::i8_ops_for(ops), *r.cand.i8, r.cand.bias, r.cand.weight_dtype, hs.data(), nA, outs.data(),
                        threads, stA);
    } else {
      project_blocks(dops, r.cand.weight, r.cand.weight_dtype, r.cand.bias, V, r.cand.d, hs.data(), nA, outs.data(),
                     threads, r.cand.q8, r.cand.q8_scale, stA);
    }
    if (nA < P)
      project_blocks(dops, r.cand.weight, r.cand.weight_dtype, r.cand.bias, V, r.cand.d, hs.data() + nA, P - nA,
                     outs.data() + nA, threads, r.cand.q8, r.cand.q8_scale,
                     BlockStats{&ops, bmax2.data(), bsum2.data()});
  } else {
    for (size_t row = 0; row < R; ++row)
      for (size_t c = 0; c < C; ++c) zc[row * C + c] = r.cand.logits[c] + row * V;
  }

  // 2. log-sum-exp of the final rows and of every candidate row (also the finiteness check).
  std::vector<float> lse(R * (C + 1)), mx(R);
  parallel_for(R * (C + 1), threads, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const size_t row = i / (C + 1), c = i % (C + 1);
      const float* z = c == 0 ? final_logits + row * V : zc[row * C + c - 1];
      float m = 0.f, s = 0.f;
      if ((c > 0 || project_final) && !bmax.empty()) {
        // combine the blocks' statistics: max over blocks, then each block's sum rescaled to it
        const size_t hp = c > 0 ? row * C + c - 1 : R * C + row;
        const bool first = hp < nA;
        const size_t h = first ? hp : hp - nA, n = first ? nA : P - nA;
        const float* bm_ = first ? bmax.data() : bmax2.data();
        const float* bs_ = first ? bsum.data() : bsum2.data();
        bool finite = true;
        m = -std::numeric_limits<float>::infinity();
        for (size_t b = 0; b < blocks; ++b) {
          const float bm = bm_[b * n + h];
          if (std::isnan(bm)) finite = false;
          else m = std::max(m, bm);
        }
        if (finite) {
          double acc = 0.0;
          for (size_t b = 0; b < blocks; ++b) acc += static_cast<double>(bs_[b * n + h]) * std::exp(static_cast<double>(bm_[b * n + h] - m));
          lse[i] = m + static_cast<float>(std::log(acc));
          if (c == 0) mx[row] = m;
          continue;
        }
      }
      if (!ops.max_sumexp(z, DType::F32, V, &m, &s)) {
        throw KernelError{c == 0 ? KernelError::kNonFiniteExpert : KernelError::kNonFiniteAmateur, row,
                          first_non_finite_f32(z, V)};
      }
      lse[i] = m + std::log(s);
      if (c == 0) mx[row] = m;
    }
  });

  // 3. the final layer's probabilities, then every candidate's divergence.
  std::vector<float> p(R * V);
  parallel_for(R, threads, [&](size_t i0, size_t i1) {
    for (size_t row = i0; row < i1; ++row) dops.exp_shift(final_logits + row * V, lse[row * (C + 1)], V, &p[row * V]);
  });
  std::vector<double> div(R * C);
  if (C > 1) {
    parallel_for(R * C, threads, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) {
        const size_t row = i / C, c = i % C;
        div[i] = dops.divergence(final_logits + row * V, lse[row * (C + 1)], &p[row * V], zc[i],
                                 lse[row * (C + 1) + c + 1], V, r.divergence);
      }
    });
  }

  // 4. selection and contrast per row. transformers reports its divergence as a mean over the vocabulary.
  const double scale = r.divergence == Divergence::kDolaCode ? static_cast<double>(V) : 1.0;
  parallel_for(R, threads, [&](size_t i0, size_t i1) {
    thread_local RowScratch rs;
    for (size_t row = i0; row < i1; ++row) {
      size_t best = 0;
      for (size_t c = 1; c < C; ++c)
        if (div[row * C + c] > div[row * C + best]) best = c;
      if (r.chosen) r.chosen[row] = static_cast<int32_t>(best);
      if (r.divergences)
        for (size_t c = 0; c < C; ++c) r.divergences[row * C + c] = static_cast<float>(div[row * C + c] / scale);
      const float* zf = final_logits + row * V;
      float* out = r.out + row * V;
      RowStats st;
      if (r.output == Output::kDola) {
        st = dola_row(zf, lse[row * (C + 1)], mx[row], zc[row * C + best], lse[row * (C + 1) + best + 1], V,
                      r.params, &p[row * V], out, rs.values);
      } else {
        Params prm = r.params;
        prm.mode = r.output == Output::kCd ? Mode::CD : Mode::ACD;
        try {
          st = contrast_row(ops, zf, zc[row * C + best], nullptr, DType::F32, V, prm, out, rs.contrast);
        } catch (KernelError& e) {
          e.row = row;
          throw;
        }
      }
      if (r.stats) r.stats[row] = st;
    }
  });
}

}  // namespace dola
}  // namespace ac
