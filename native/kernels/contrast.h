// The fused contrast kernel: public C++ interface shared by the N-API binding, the C++ tests and the CUDA
// checks. Semantics follow Gera et al. 2023 (ACD, Eq. 1-5) and Li et al. 2022 (CD); see README "Semantics".
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ac {

enum class DType : int32_t { F32 = 0, F16 = 1, BF16 = 2 };
enum class Mode : int32_t { ACD = 0, CD = 1 };

struct Params {
  Mode mode = Mode::ACD;
  float alpha = 0.1f;          // plausibility threshold, in [0, 1]
  int32_t min_candidates = 1;  // the head holds at least this many tokens, in [1, V]
  bool has_beta = false;       // CD only: O'Brien & Lewis (1 + beta) z_e - beta z_a instead of z_e - z_a
  float beta = 0.5f;
};

// Per-row outputs besides the log-probabilities.
struct RowStats {
  int32_t head_size = 0;
  float head_mass = 0.f;  // expert probability mass of the head
};

// The amateur given as a linear exit: z_a[v] = dot(W[v, :], h) + b[v]. Only head rows of W are read.
struct SparseAmateur {
  const void* weight = nullptr;  // [V x d], dtype weight_dtype
  DType weight_dtype = DType::F32;
  const void* bias = nullptr;  // [V] or null, dtype weight_dtype
  const float* hidden = nullptr;  // [d], already converted to float
  size_t d = 0;
};

// Error raised by the kernels for data-dependent problems (non-finite logits). The binding turns it into a
// RangeError; argument shapes are checked before any kernel runs.
struct KernelError {
  enum Code { kNonFiniteExpert, kNonFiniteAmateur, kNonFiniteHidden } code;
  size_t row;
  size_t index;
};

// Per-row constants of the head passes.
struct CollectArgs {
  float lse = 0.f;       // expert log-normaliser: outside the head out = z_e - lse (ACD)
  float thr = 0.f;       // the head is z_e >= thr
  bool cd = false;       // outside the head out = -inf instead (CD)
  float ce = 1.f;        // head score s = ce * z_e - ca * z_a
  float ca = 1.f;
  size_t cap = 0;        // collect: room for this many head indices
  // dense_pass prefetches these into L2 as it goes (either may be null): the row's output, which the next pass
  // writes, and the next row's expert logits, which the next row's max pass reads. In a batch larger than L2 both
  // would otherwise come from L3 in passes with too little arithmetic to hide the wait. (Prefetching the next
  // amateur row as well measured no faster.)
  float* pf_out = nullptr;
  const void* pf_next = nullptr;
};

// The share of head tokens (more than one in kDenseShare values) above which a dense amateur's head is finished by
// full-width passes rather than on packed arrays (gather, scatter): per block in dense_pass, per row in contrast_row.
constexpr size_t kDenseShare = 16;

// What the dense amateur's statistics pass (Ops::dense_pass) finds, given the expert max m and the head threshold.
struct DenseStats {
  double total = 0.0;           // sum over the row of exp(z_e - m)
  double head_sum = 0.0;        // the same over the head {z_e >= thr}
  size_t count = 0;             // head size
  float smax = 0.f;             // max head score s = ce z_e - ca z_a (-inf for an empty head)
  double z = 0.0;               // sum over the head of exp(s - smax) ...
  bool z_complete = true;       // ... complete (false: some head tokens were left to the packed path)
  bool amateur_finite = true;
};

// One instruction-set implementation of the bulk passes and of the vectorised head. contrast.cc composes them.
struct Ops {
  const char* name;  // "scalar", "avx2", "avx512", "neon"
  // max and sum(exp(z - max)) over n values; returns false if any value is NaN or infinite.
  bool (*max_sumexp)(const void* z, DType dt, size_t n, float* max_out, float* sum_out);
  // out[i] = z[i] - sub (or -inf when mask_outside, for z[i] < thr); appends i to idx for z[i] >= thr.
  // Returns the number of indices appended.
  size_t (*write_collect)(const void* z, DType dt, size_t n, float sub, float thr, bool mask_outside,
                          float* out, int32_t* idx);
  // true if all n values are finite.
  bool (*all_finite)(const void* z, DType dt, size_t n);
  // dot(w[0..d), h[0..d)) with w in dt.
  float (*dot)(const void* w, DType dt, const float* h, size_t d);

  // --- the row pipeline of contrast_row (see contrast.cc for how they fit together) ---
  // max and min over n values; false if any is NaN or infinite.
  bool (*max_finite)(const void* z, DType dt, size_t n, float* max_out, float* min_out);
  // Returns sum(exp(z - m)) over the row; head_sum and head_count: the same sum and the count over {z >= thr}
  // (float lanes flushed to double every 64 terms per lane).
  double (*sumexp_head)(const void* z, DType dt, size_t n, float m, float thr, double* head_sum, size_t* head_count);
  // out = z_e - lse (or -inf, CD) over the row; appends the head's indices (at most a.cap) to idx.
  void (*collect)(const void* ze, DType dt, size_t n, const CollectArgs& a, float* out, int32_t* idx);
  // sum(exp(x[i] - shift)) over a compact float array.
  double (*sum_exp)(const float* x, size_t n, float shift);
  // s[i] = ce * ze[i] - ca * za[i] over compact float arrays; returns max s.
  float (*scores)(const float* ze, const float* za, size_t n, float ce, float ca, float* s);
  // out[idx[i]] = (s[i] - sub) + add.
  void (*scatter_shift)(const float* s, const int32_t* idx, size_t n, float sub, float add, float* out);
  // A dense amateur: one pass over both rows for the expert's normaliser, the head's mass and size, the amateur's
  // finiteness and the head's score normaliser (a.thr, a.ce, a.ca; m = max z_e) ...
  void (*dense_pass)(const void* ze, const void* za, DType dt, size_t n, float m, const CollectArgs& a,
                     DenseStats* st);
  // ... and, for a large head, one write pass: out = (s - sub) + add on the head, z_e - a.lse (or -inf, a.cd)
  // elsewhere.
  void (*finish_dense)(const void* ze, const void* za, DType dt, size_t n, const CollectArgs& a, float sub,
                       float add, float* out);
  // A head of the whole row with a dense amateur: s = a.ce z_e - a.ca z_a into out, its max and
  // z = sum exp(s - max); false if any s is not finite ...
  bool (*full_head)(const void* ze, const void* za, DType dt, size_t n, const CollectArgs& a, float* out,
                    float* smax, double* z);
  // ... then x = (x - sub) + add in place.
  void (*shift)(float* x, size_t n, float sub, float add);
};

const Ops& scalar_ops();
const Ops* avx2_ops();    // null when not compiled in
const Ops* avx512_ops();  // null when not compiled in
const Ops* neon_ops();    // null when not compiled in

// The best implementation this CPU supports (checked once at run time), or the one named by
// AUTOCONTRAST_ISA (scalar|avx2|avx512|neon) when that variable is set and supported.
const Ops& best_ops();
// Looks an implementation up by name; null if unknown, not compiled in, or not supported by this CPU.
const Ops* ops_by_name(const char* name);

// Per-thread working memory, reused across rows to avoid allocation per token.
struct Scratch {
  std::vector<int32_t> head;
  std::vector<float> values;
  std::vector<float> expert_head;   // compact head: expert logits (sparse amateur)
  std::vector<float> amateur_head;  // compact head: amateur logits (sparse amateur)
  std::vector<double> scores;       // reference path
};

// One row. amateur is a dense row of V logits (dtype dt) or null when sparse is given.
// Throws KernelError (row field left 0) on non-finite data.
// next_expert: the expert row processed next, if known (prefetched, see CollectArgs::pf_next).
RowStats contrast_row(const Ops& ops, const void* expert, const void* amateur, const SparseAmateur* sparse,
                      DType dt, size_t V, const Params& p, float* out, Scratch& scratch,
                      const void* next_expert = nullptr);

// The same row computed the straightforward way: the bulk passes of `ops`, then the head finished token by token
// in double precision. Kept as the reference the tests compare every vectorised path against.
RowStats contrast_row_reference(const Ops& ops, const void* expert, const void* amateur,
                                const SparseAmateur* sparse, DType dt, size_t V, const Params& p, float* out,
                                Scratch& scratch);

// A batch of rows [rows x V], spread over the shared thread pool when large enough (threads = 0: automatic,
// 1: calling thread only). hidden is [rows x d] floats for the sparse form. stats may be null.
struct Batch {
  const void* expert = nullptr;
  const void* amateur = nullptr;  // dense form
  SparseAmateur sparse;           // sparse form when sparse.weight != null (sparse.hidden is row 0's)
  DType dtype = DType::F32;
  size_t rows = 0;
  size_t vocab = 0;
  float* out = nullptr;
  RowStats* stats = nullptr;
};
void contrast_batch(const Ops& ops, const Batch& b, const Params& p, int threads = 0);

inline size_t dtype_size(DType dt) { return dt == DType::F32 ? 4 : 2; }

}  // namespace ac
