// Layer selection by divergence: DoLa (Chuang et al., ICLR 2024, "Decoding by Contrasting Layers") and ACD / CD
// with the amateur chosen per step. For every row (sequence) and step:
//   1. candidate logits z_c = W h_c (+ b) for every candidate layer c, in one batched projection that reads the
//      head matrix W once (all rows x candidates multiply each block of W while it is in cache);
//   2. the divergence of each candidate's softmax from the final layer's (softmax and divergence fused, one
//      pass over the candidate's logits after its log-sum-exp);
//   3. the premature / amateur layer = the candidate with the largest divergence (the first one on ties, as
//      torch.argmax);
//   4. the contrast: DoLa's `log p_final - log p_premature` on the relative-top head
//      {v : log p_final[v] >= max log p_final + ln(alpha)} and -inf elsewhere (transformers' _relative_top_filter:
//      -inf for the final scores minus -1e-3 for the premature ones), or ACD (Eq. 5) / CD (contrast.h) with the
//      chosen layer's logits as the amateur.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "contrast.h"
#include "head_i8.h"

namespace ac {
namespace dola {

// Which divergence ranks the candidates.
enum class Divergence : int32_t {
  // What DoLa's code and transformers' `_dola_select_contrast` compute: 0.5 (KL(M||P) + KL(M||Q)) / V with
  // M = (P + Q) / 2 (torch's kl_div(input=log P, target=M) is KL(M||P)). The default: selection parity.
  kDolaCode = 0,
  // The textbook Jensen-Shannon divergence 0.5 (KL(P||M) + KL(Q||M)) (DoLa paper, Eq. 3).
  kJsd = 1,
};

// What is written to `out`.
enum class Output : int32_t {
  kDola = 0,  // DoLa scores: log p_final - log p_premature on the head, -inf elsewhere
  kAcd = 1,   // ACD log-probabilities (contrast.h, Mode::ACD) with the chosen layer as the amateur
  kCd = 2,    // CD scores (contrast.h, Mode::CD)
};

// The SIMD passes of one instruction set (chosen to match the contrast Ops in use).
struct DolaOps {
  const char* name;
  // out[h][v0 + v] = dot(W[v], H[h]) for v in [0, nv), h in [0, nh): W points to nv rows of d values of dtype wdt
  // (row-major: head row v0 first), H[h] d floats, out[h] a row of the candidate-logit buffer.
  void (*project)(const void* W, DType wdt, size_t v0, size_t nv, size_t d, const float* const* H, size_t nh,
                  float* const* out);
  // sum over v of the divergence term for final log-probs lp[v] = zf[v] - lse_f (p[v] = exp(lp[v]) given) and
  // candidate log-probs lq[v] = zc[v] - lse_c. Unnormalised (not divided by V).
  double (*divergence)(const float* zf, float lse_f, const float* p, const float* zc, float lse_c, size_t V,
                       Divergence kind);
  // p[v] = exp(z[v] - lse).
  void (*exp_shift)(const float* z, float lse, size_t V, float* p);
  // out[i] = q[i] * scale[i / 32] for n values (n a multiple of 32): the int8 block form of a head (see
  // Candidates::q8), exactly the float32 values it was made from.
  void (*dequant_q8)(const int8_t* q, const float* scale, size_t n, float* out);
  // project for a head in int8 blocks (Candidates::q8; head rows v0 .. v0 + nv - 1 at q8 + v0 * d): bit-identical
  // to project on the float32 head it reproduces. Null: the driver widens pieces with dequant_q8 and calls project.
  void (*project_q8)(const int8_t* q8, const float* scale, size_t v0, size_t nv, size_t d, const float* const* H,
                     size_t nh, float* const* out) = nullptr;
};

const DolaOps& dola_scalar_ops();
const DolaOps* dola_avx2_ops();    // null when not compiled in
const DolaOps* dola_avx512_ops();  // null when not compiled in
// The DolaOps of the same instruction set as `ops` (scalar when that set has none).
const DolaOps& dola_ops_for(const Ops& ops);

// Candidate layers: either hidden states projected by a head, or logits given directly.
struct Candidates {
  size_t count = 0;  // C >= 1
  // Projected form: hidden[c] holds [rows x d] floats of candidate c; weight [V x d] of dtype weight_dtype;
  // bias [V] (same dtype) or null.
  const float* const* hidden = nullptr;
  const void* weight = nullptr;
  DType weight_dtype = DType::F32;
  const void* bias = nullptr;
  size_t d = 0;
  // Instead of weight: the head in int8 blocks, W[v][i] = q8[v * d + i] * q8_scale[(v * d + i) / 32] (d a multiple
  // of 32). Made only when this reproduces the float32 head exactly (a head dequantised from GGUF Q8_0), so the
  // logits are those of the float32 head; the head is read in a quarter of the bytes.
  const int8_t* q8 = nullptr;
  const float* q8_scale = nullptr;
  // Opt-in approximation (dolaHead 'int8', head_i8.h): the candidates projected by this packed int8 head, their
  // hidden states quantised per block of 32 at each step, instead of by weight / q8; with i8_final, the final
  // layer's hidden states (Request::final_hidden) as well. weight / q8 stay set: without i8_final they project the
  // final layer.
  const i8::Head* i8 = nullptr;
  bool i8_final = false;
  // Logits form (when hidden is null): logits[c] holds [rows x V] float32 logits of candidate c.
  const float* const* logits = nullptr;
};

struct Request {
  const float* final_logits = nullptr;  // [rows x V] float32, the mature (final) layer
  // Instead of final_logits (projected candidates only): the final layer's hidden states [rows x d], projected by
  // the candidates' head in the same pass as the candidates (the head read once per step for all layers); their
  // logits are written to final_out [rows x V] and used as the final layer's.
  const float* final_hidden = nullptr;
  float* final_out = nullptr;
  Candidates cand;
  size_t rows = 0;
  size_t vocab = 0;
  Divergence divergence = Divergence::kDolaCode;
  Output output = Output::kDola;
  Params params;              // alpha (= DoLa's relative_top), min_candidates; mode/beta for ACD/CD outputs
  float* out = nullptr;       // [rows x V]
  int32_t* chosen = nullptr;  // [rows]: index into the candidates of the chosen layer
  float* divergences = nullptr;  // [rows x C] or null: each candidate's divergence (kDolaCode: / V, as transformers)
  RowStats* stats = nullptr;     // [rows] or null: head size and the final layer's probability mass on it
};

// Runs the whole request; threads as parallel_for (0: automatic, 1: calling thread only). Throws KernelError on
// non-finite final logits (kNonFiniteExpert) or candidate logits (kNonFiniteAmateur), with the row set.
void select_and_contrast(const Ops& ops, const Request& r, int threads = 0);

// The int8 projection alone (head_i8.h): out[i] = the int8 product of hidden row i (quantised here) and w, plus
// bias (dtype bias_dt) when given. For tests and benchmarks.
void project_rows_i8(const Ops& ops, const i8::Head& w, const void* bias, DType bias_dt, const float* const* hidden,
                     size_t n, float* const* out, int threads = 0);

// Only the batched projection (step 1): out[i] = W h_i (+ b) for n hidden rows of d floats, each out[i] a row of
// V floats. Exposed for tests and for callers that only need candidate logits.
// With q8 set (W and wdt then ignored), the head is read in its int8 block form (Candidates::q8).
void project_rows(const DolaOps& dops, const void* W, DType wdt, const void* bias, size_t V, size_t d,
                  const float* const* hidden, size_t n, float* const* out, int threads = 0,
                  const int8_t* q8 = nullptr, const float* q8_scale = nullptr);

}  // namespace dola
}  // namespace ac
