// The native decode runtime: ONNX Runtime sessions driven through the C API (libonnxruntime.so.1 loaded with
// dlopen at run time), with the KV cache, logits and exit outputs in buffers this code owns, so nothing but token
// ids and the last position's outputs ever reach JavaScript. This header has no ONNX Runtime types: the N-API
// binding includes it whether or not the runtime was built.
//
// Threading: a Model may be shared by any number of Sequences, and Sequences may run concurrently on different
// threads (OrtSession::Run is thread-safe). One Sequence must not be used by two threads at once; the binding
// enforces that with a busy flag. Validation (Check*) throws RuntimeError and is meant for the JS thread; the
// Run* functions do the work and throw RuntimeError (kind kOrt for ONNX Runtime failures).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../kernels/contrast.h"
#include "../kernels/select.h"
#include "spin_policy.h"

struct OrtIoBinding;  // from onnxruntime_c_api.h (kept opaque here)

namespace acr {

struct RuntimeError : std::runtime_error {
  enum Kind { kType, kRange, kState, kOrt } kind;
  RuntimeError(Kind k, const std::string& m) : std::runtime_error(m), kind(k) {}
};

// Loads libonnxruntime from `library_path` (once per process; later calls must name the same file or an
// error is thrown) and creates the process-wide OrtEnv. Returns the ORT version string.
std::string InitOrt(const std::string& library_path);
// The ORT_API_VERSION this code was compiled against.
int CompiledApiVersion();
// Physical CPU cores (Linux: distinct (physical id, core id) pairs in /proc/cpuinfo), at least 1.
int PhysicalCores();
// Why device 'cuda' cannot be used here (empty when it can): ONNX Runtime's CUDA provider library missing next
// to the loaded libonnxruntime, the autocontrast CUDA library missing or without its decode-loop entry points,
// no CUDA driver, no device, or no device `device_id`. Needs InitOrt first. `cuda_dir`: the folder searched for
// libautocontrast_cuda.so (see native/binding/cuda_loader.h).
std::string CudaUnavailableReason(const std::string& cuda_dir, int device_id);

struct ExitConfig {
  int layer = 0;
  std::string hidden;  // graph output name, or empty
  std::string logits;  // graph output name, or empty
};

// The model's output head computed by the runtime instead of the graph: an int8-block head (codes and one float scale
// per 32 values, native/kernels/q8_head.h) whose values are exactly the graph's float32 head (src/generate/q8-head.ts
// checks that before handing it over). The graph (ModelConfig::graph_bytes: the folder's graph without its head
// product) outputs the final hidden state as `hidden_output`; after every Run the sequence multiplies it with the
// head into its logits buffer, so everything above the runtime reads the same logits as before.
struct OutputHead {
  std::string hidden_output;   // graph output [batch, positions, hidden] that the head multiplies
  std::vector<int8_t> codes;   // [vocab x hidden]
  std::vector<float> scales;   // [vocab x hidden / 32]
};

struct ModelConfig {
  std::string graph_path;
  // When not empty: the graph's ModelProto bytes (a derived form of the graph at graph_path, e.g. DoLa's graph
  // without its head product), loaded from memory; its external data is read from graph_path's folder.
  std::string graph_bytes;
  int num_layers = 0, num_kv_heads = 0, head_dim = 0, vocab = 0, hidden = 0, context_length = 0;
  std::string logit_positions = "last";  // all | last | input
  std::string input_ids = "input_ids", attention_mask = "attention_mask", position_ids = "position_ids";
  std::string num_logits_to_keep;  // empty when the graph has no such input
  std::string logits = "logits";
  std::vector<std::string> past_key, past_value, present_key, present_value;  // one per layer
  std::vector<ExitConfig> exits;
  // Keys stored rotated by their cache column (the fused Llama graph): moving a row's keys by delta columns
  // rotates them on by delta x key_rotation_inv_freq[i] (head_dim / 2 values; empty: keys do not depend on their
  // column). Pairs (2i, 2i + 1) when interleaved, else (i, i + head_dim / 2).
  std::vector<double> key_rotation_inv_freq;
  bool key_rotation_interleaved = false;
  int intra_op_threads = 0;  // 0: physical cores
  int inter_op_threads = 1;
  // Pool threads sleep between ops by default: spinning decodes SmolLM2 12-39% faster when the cores are free but
  // 0.54x beside two busy processes at the same priority (bench/results/decode-peers.md).
  bool allow_spinning = false;
  bool stop_spinning_after_run = false;  // with allow_spinning: spin between the ops of a Run, not between Runs
  // allowSpinning 'auto' (CPU only; allow_spinning stays false): the session's threads sleep, and a twin session
  // over the same graph whose threads spin is created when the policy first wants it (spin_policy.h); each decode
  // step runs in the one the policy picks. The KV cache is in the sequence's buffers, so either runs any step.
  bool adaptive_spinning = false;
  int optimization_level = 99;  // ORT_ENABLE_ALL
  // "cpu", or "cuda": the session gets ONNX Runtime's CUDA execution provider on `device_id`, running on a stream
  // created by the autocontrast CUDA library (ORT's user_compute_stream), and sequences keep the KV cache, logits
  // and exit outputs in device memory (see Sequence).
  std::string device = "cpu";
  int device_id = 0;
  std::string cuda_dir;  // where libautocontrast_cuda.so is looked up
  // Null: the graph computes `logits`. Shared, not copied, with the config (tens of MB).
  std::shared_ptr<const OutputHead> output_head;
};

// Token selection inside the native contrast step: the decoding chain's argmax, or its temperature, top-k,
// top-p and seeded draw (ac::select_row; per-row generators ac::SeededRandom(seed, row), created at the first
// sampled step of the sequence and advanced once per step).
struct SampleOptions {
  bool enabled = false;
  ac::SelectOptions select;  // select.sample == enabled
  int64_t seed = 0;
};

// The sparse amateur of the fused step: the exit's hidden state (bound as exit.{L}.hidden) times the rows of this
// head matrix that the plausibility head needs (ac::SparseAmateur). The arrays belong to the caller (the binding
// keeps their JavaScript owners alive while a step or loop runs).
struct SparseHead {
  const void* weight = nullptr;  // [vocab x hidden], dtype
  ac::DType dtype = ac::DType::F32;
  const void* bias = nullptr;  // [vocab] or null, dtype
};

struct Timing {
  double step_ms = 0;  // the whole native step (binding + Run + post-processing)
  double run_ms = 0;   // OrtApi::RunWithBinding alone
  double head_ms = 0;  // the runtime's output head (ModelConfig::output_head), 0 without one
  bool spinning = false;  // the step ran in a session whose pool threads spin
};

// allowSpinning 'auto': counts since the model was loaded (all its sequences).
struct SpinStats {
  int64_t decode_steps = 0;    // one-token steps run
  int64_t spinning_steps = 0;  // of those, run in the spinning twin
  int64_t probes = 0;          // of those, probes (run in the mode the policy was not in)
  bool twin = false;           // the spinning twin exists
};

class Model {
 public:
  static std::shared_ptr<Model> Load(const ModelConfig& cfg);  // slow: run off the main thread
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return cfg_; }
  const std::vector<std::string>& input_names() const { return inputs_; }
  const std::vector<std::string>& output_names() const { return outputs_; }
  int intra_op_threads() const { return threads_; }
  // Whether this runtime computes the logits with ModelConfig::output_head (else the graph does).
  bool has_output_head() const { return cfg_.output_head != nullptr; }
  // allowSpinning 'auto': the latest decision of any sequence (where new sequences start), and the counts.
  SpinHint spin_hint() const;
  void RecordSpin(const SpinState& after, bool spun, bool probe);
  SpinStats spin_stats() const;
  struct Impl;
  Impl* impl() const { return impl_.get(); }

 private:
  Model() = default;
  ModelConfig cfg_;
  std::vector<std::string> inputs_, outputs_;
  int threads_ = 0;
  std::unique_ptr<Impl> impl_;
};

// One exit a sequence reads every step.
struct ExitRequest {
  int layer = 0;
  bool logits = false;  // bind exit.{L}.logits
  bool hidden = false;  // bind exit.{L}.hidden
};

struct SequenceOptions {
  int batch = 1;
  int max_length = 0;       // prompt + generated tokens, <= the model's context length
  // The one-exit form (kept for compatibility): when exit_layer >= 0 it is the first bound exit.
  int exit_layer = -1;      // -1: no exit outputs
  bool exit_logits = false;  // bind exit.{L}.logits
  bool exit_hidden = false;  // bind exit.{L}.hidden
  // Further exits (after exit_layer's, if any); layers must be distinct. The first bound exit is the one
  // exit_logits() / exit_hidden() and Contrast() use.
  std::vector<ExitRequest> exits;
};

// The output buffers of one bound exit ([batch x vocab] logits, [batch x hidden] hidden; null when not bound).
struct ExitBuffers {
  int layer = 0;
  std::string logits_name, hidden_name;
  std::shared_ptr<std::vector<float>> logits, hidden;
};

class Sequence {
 public:
  Sequence(std::shared_ptr<Model> model, const SequenceOptions& opts);  // allocates every buffer
  ~Sequence();
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  int batch() const { return opts_.batch; }
  int max_length() const { return opts_.max_length; }
  int past_length() const { return past_len_; }
  int vocab() const { return vocab_; }
  int hidden() const { return hidden_; }
  bool prefilled() const { return prefilled_; }

  // Validate on the JS thread and stage the inputs; then Run() on any thread.
  // Prompts: rows of token ids (any lengths >= 1), left-padded to the longest.
  void StagePrefill(const std::vector<std::vector<int32_t>>& rows);
  // One token per row.
  void StageStep(const int32_t* tokens, size_t count);
  // parents[b]: the row beam b continues from. Applied lazily before the next Run (composes with earlier
  // pending reorders); the KV cache is gathered into the spare buffer, then the buffers swap.
  void StageReorder(const int32_t* parents, size_t count);
  void Run();
  // Dense contrast on the last Run's outputs (expert = logits, amateur = exit logits), then the decoding
  // chain's selection; writes the chain's log-probabilities into scores() and, per row, the argmax token (or a
  // sampled one), its log-probability and the head size. On device 'cuda' the scores stay in device memory (ReadOutputs copies them) and only the three
  // per-row values are copied back.
  // `sparse`: the amateur is the exit's hidden state times that head (CPU only) instead of the exit's logits.
  void Contrast(const ac::Params& p, int32_t* token, float* logprob, int32_t* head_size,
                const SampleOptions& sample = SampleOptions(), const SparseHead* sparse = nullptr);
  // Plain decoding's selection (no contrast): the expert logits copied into scores(), then the same selection as
  // Contrast (the chain's log-softmax of the expert, then argmax or the draw); head_size is the vocabulary. CPU only.
  void SelectPlain(int32_t* token, float* logprob, int32_t* head_size, const SampleOptions& sample = SampleOptions());
  // Device 'cuda': copies the last step's logits, exit outputs and scores from device memory into the host
  // buffers below (synchronous; call between steps). CPU: nothing to do (the buffers are the outputs).
  void ReadOutputs();
  bool on_device() const { return dev_ != nullptr; }

  // Buffers valid until the next Run: [batch x vocab], [batch x vocab], [batch x hidden], [batch x vocab].
  // On device 'cuda' they are host copies filled by ReadOutputs only.
  const std::shared_ptr<std::vector<float>>& logits() const { return logits_; }
  const std::shared_ptr<std::vector<float>>& exit_logits() const { return exit_logits_; }
  const std::shared_ptr<std::vector<float>>& exit_hidden() const { return exit_hidden_; }
  const std::shared_ptr<std::vector<float>>& scores();
  // Every bound exit, in binding order (the first is the one exit_logits() / exit_hidden() return).
  const std::vector<ExitBuffers>& exits() const { return exits_; }
  const Timing& timing() const { return timing_; }
  // Bytes of KV cache this sequence holds (both ping-pong halves).
  size_t kv_bytes() const;

  // ---- Rows joining and leaving a running batch (continuous batching; rows.cc). A sequence created with
  // batch B has B row slots; `rows()` of them are in use, always the first ones, and only those are run. prefill
  // uses every slot; a sequence never prefilled starts with none. CPU only (device 'cuda' refuses).
  int rows() const { return rows_; }
  // Validates on the JS thread that src's row `src_row` can join this sequence as row rows(): same model, a free
  // slot, src prefilled and idle of reorders, its tokens (padding excluded) fitting maxLength.
  void CheckAdmit(const Sequence& src, int src_row) const;
  // Worker thread: applies pending removals, then appends src's row as row rows(): its KV cache rows (tokens
  // only, no padding) are copied right-aligned into this sequence's current past, left-padded and masked. When
  // the row holds more tokens than this sequence's past, every row here first moves right (more left padding).
  // Returns the new row's index.
  int Admit(const Sequence& src, int src_row);
  // JS thread, cheap: row `row` leaves; the last row takes its slot (its KV cache moves before the next Run or
  // Admit, on the worker thread). Returns the index the last row had (== row when it was the last one).
  int StageRemove(int row);

 private:
  void ApplyReorder();
  // The output head (ModelConfig::output_head): the hidden output's buffer (an exit's when that exit binds the same
  // output), and the projection of its `rows` rows into logits_ after a Run (output_head.cc).
  std::shared_ptr<std::vector<float>> head_hidden_;
  bool head_hidden_bound_by_exit_ = false;
  void SetUpOutputHead();
  void ProjectOutputHead(int rows);
  // Applies staged row moves and drops left padding shared by every row when it is worth it (rows.cc).
  void ApplyRowChanges(int next_tokens);
  // Moves every row so that the past becomes `new_past` positions long (tokens right-aligned; more or less left
  // padding), into the spare half, then swaps halves.
  void Relayout(int new_past);
  // `count` keys of one head ([count x head_dim], consecutive columns) that moved `delta` columns: rotated on by
  // delta when the graph's keys depend on their column (ModelConfig::key_rotation_inv_freq), else untouched.
  void ShiftKeys(float* keys, size_t count, int delta) const;
  int rows_ = 0;  // slots in use (== batch after prefill)
  std::vector<std::pair<int32_t, int32_t>> pending_moves_;  // (to, from) row KV copies staged by StageRemove
  std::shared_ptr<Model> model_;
  SequenceOptions opts_;
  int layers_ = 0, kv_heads_ = 0, head_dim_ = 0, vocab_ = 0, hidden_ = 0;
  std::string exit_logits_name_, exit_hidden_name_;
  std::vector<ExitBuffers> exits_;  // all bound exits; exits_[0] shares its buffers with exit_logits_/exit_hidden_
  // kv_[half][layer * 2 + (0 key | 1 value)]: capacity batch * kv_heads * max_len * head_dim floats each.
  std::vector<std::unique_ptr<float[]>> kv_[2];
  size_t kv_capacity_ = 0;
  int cur_ = 0;  // which half holds the current past
  int past_len_ = 0;
  bool prefilled_ = false;
  std::vector<int32_t> pad_;      // left padding per row
  std::vector<int64_t> ids_;      // staged input_ids [batch x new_len]
  int new_len_ = 0;               // staged tokens per row (0: nothing staged)
  std::vector<int64_t> mask_, pos_;
  std::vector<int32_t> pending_parents_;  // empty: no reorder pending
  std::shared_ptr<std::vector<float>> logits_, exit_logits_, exit_hidden_, scores_;
  std::vector<ac::RowStats> stats_;
  // Sampling in Contrast(): one generator per row (stream = row), seeded at the first sampled step.
  std::vector<ac::SeededRandom> rng_;
  int64_t rng_seed_ = 0;
  std::vector<float> select_scratch_;
  std::vector<int32_t> select_order_;
  std::vector<double> uniforms_;  // device 'cuda': this step's draws, copied to the device
  void SeedRows(int64_t seed, size_t rows);
  // Selection on the rows of `out` (scores(): contrasted, or the expert's logits), shared by Contrast and SelectPlain.
  void SelectRows(float* out, int32_t* token, float* logprob, int32_t* head_size, bool plain, const SampleOptions& sample);
  Timing timing_;
  OrtIoBinding* binding_ = nullptr;
  OrtIoBinding* twin_binding_ = nullptr;  // allowSpinning 'auto': the binding of the model's spinning twin
  SpinState spin_;                        // allowSpinning 'auto': this sequence's policy state
  int64_t keep_one_ = 1;
  struct Device;  // device buffers (device 'cuda'); null on the CPU
  std::unique_ptr<Device> dev_;
};

}  // namespace acr
