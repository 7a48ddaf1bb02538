// N-API binding of the native decode runtime. Models and sequences cross to JavaScript as Napi::External
// handles (wrapped in classes by src/runtime/). Every step runs on libuv's thread pool (an AsyncWorker per step)
// and resolves a Promise; the logits / exit buffers are exposed as Float32Array views over native memory that
// the runtime rewrites on every step (zero-copy; valid until the next step of that sequence).
#include "runtime_binding.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "args.h"

#ifdef AC_HAVE_ORT
#include <atomic>

#include "../runtime/decode_loop.h"
#include "../runtime/runtime.h"
#endif

namespace acb {

#ifndef AC_HAVE_ORT

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("rtAvailable", Napi::Boolean::New(env, false));
  exports.Set("rtUnavailableReason",
              Napi::String::New(env, "the addon was built without the ONNX Runtime C API headers (run `node "
                                     "scripts/fetch-ort-headers.mjs`, then rebuild the addon)"));
}

#else

namespace {

struct ModelHandle {
  std::shared_ptr<acr::Model> model;
};
struct SeqHandle {
  std::shared_ptr<acr::Sequence> seq;
  bool busy = false;
  // The running decode loop's stop flag (rtDecodeStop sets it; the worker reads it before each step).
  std::shared_ptr<std::atomic<bool>> stop;
};

// A runtime error kind as a JavaScript error with a stable `code` (src/errors.ts lists them).
Napi::Error CodedError(Napi::Env env, int kind, const std::string& msg) {
  switch (kind) {
    case acr::RuntimeError::kType: return acb::WithCode(Napi::TypeError::New(env, msg), acb::kCodeInvalidArgType);
    case acr::RuntimeError::kRange: return acb::WithCode(Napi::RangeError::New(env, msg), acb::kCodeOutOfRange);
    case acr::RuntimeError::kState: return acb::WithCode(Napi::Error::New(env, msg), acb::kCodeInvalidState);
    default: return acb::WithCode(Napi::Error::New(env, msg), acb::kCodeOrt);
  }
}

[[noreturn]] void Rethrow(Napi::Env env, const acr::RuntimeError& e) { throw CodedError(env, e.kind, e.what()); }

Napi::Value MakeError(Napi::Env env, int kind, const std::string& msg) { return CodedError(env, kind, msg).Value(); }

template <typename T>
T* GetHandle(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsExternal()) ThrowType(info.Env(), std::string("Expected ") + what + " handle");
  return info[i].As<Napi::External<T>>().Data();
}

ModelHandle* LiveModel(const Napi::CallbackInfo& info, size_t i) {
  ModelHandle* h = GetHandle<ModelHandle>(info, i, "a model");
  if (!h->model) throw CodedError(info.Env(), acr::RuntimeError::kState, "this model was disposed");
  return h;
}

SeqHandle* LiveSeq(const Napi::CallbackInfo& info, size_t i, bool idle = true) {
  SeqHandle* h = GetHandle<SeqHandle>(info, i, "a sequence");
  if (!h->seq) throw CodedError(info.Env(), acr::RuntimeError::kState, "this sequence was disposed");
  if (idle && h->busy)
    throw CodedError(info.Env(), acr::RuntimeError::kState, "a step is already running on this sequence (await it before the next call)");
  return h;
}

std::string StrOr(const Napi::Object& o, const char* key, const std::string& dflt) {
  return Has(o, key) ? GetString(o, key) : dflt;
}

std::vector<std::string> StrList(const Napi::Object& o, const char* key, size_t n) {
  if (!Has(o, key) || !o.Get(key).IsArray()) ThrowType(o.Env(), std::string("Expected ") + key + " to be an array of names");
  const Napi::Array a = o.Get(key).As<Napi::Array>();
  if (a.Length() != n)
    ThrowRange(o.Env(), std::string("Expected ") + key + " to have " + std::to_string(n) + " names (one per layer)");
  std::vector<std::string> v;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    if (!a.Get(i).IsString()) ThrowType(o.Env(), std::string("Expected ") + key + " to hold strings");
    v.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  return v;
}

Napi::Float32Array View(Napi::Env env, const std::shared_ptr<std::vector<float>>& buf) {
  // The ArrayBuffer keeps the native buffer alive (a shared_ptr copy in the finalizer hint), so a view stays
  // memory-safe even after the sequence is disposed.
  auto* keep = new std::shared_ptr<std::vector<float>>(buf);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, buf->data(), buf->size() * sizeof(float),
      [](Napi::Env, void*, std::shared_ptr<std::vector<float>>* k) { delete k; }, keep);
  return Napi::Float32Array::New(env, buf->size(), ab, 0);
}

// ---- rtInit(libraryPath) -> { version, apiVersion, physicalCores } ----
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) ThrowType(env, "Expected the path of libonnxruntime.so.1");
  try {
    const std::string v = acr::InitOrt(info[0].As<Napi::String>().Utf8Value());
    Napi::Object r = Napi::Object::New(env);
    r.Set("version", v);
    r.Set("apiVersion", acr::CompiledApiVersion());
    r.Set("physicalCores", acr::PhysicalCores());
    return r;
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
}

// ---- rtLoadModel(config) -> Promise<{ handle, inputs, outputs, threads }> ----
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, acr::ModelConfig cfg)
      : Napi::AsyncWorker(env, "autocontrast:loadModel"), cfg_(std::move(cfg)), deferred_(env) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override {
    try {
      model_ = acr::Model::Load(cfg_);
    } catch (const acr::RuntimeError& e) {
      kind_ = e.kind;
      error_ = e.what();
    } catch (const std::exception& e) {
      kind_ = acr::RuntimeError::kState;
      error_ = std::string("loading the model failed: ") + e.what();
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!model_) {
      deferred_.Reject(MakeError(env, kind_, error_));
      return;
    }
    Napi::Object r = Napi::Object::New(env);
    auto* h = new ModelHandle{model_};
    r.Set("handle", Napi::External<ModelHandle>::New(env, h, [](Napi::Env, ModelHandle* p) { delete p; }));
    Napi::Array ins = Napi::Array::New(env), outs = Napi::Array::New(env);
    for (size_t i = 0; i < model_->input_names().size(); ++i) ins.Set(static_cast<uint32_t>(i), model_->input_names()[i]);
    for (size_t i = 0; i < model_->output_names().size(); ++i)
      outs.Set(static_cast<uint32_t>(i), model_->output_names()[i]);
    r.Set("inputs", ins);
    r.Set("outputs", outs);
    r.Set("threads", model_->intra_op_threads());
    r.Set("outputHead", model_->has_output_head() ? "q8" : "graph");
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  acr::ModelConfig cfg_;
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<acr::Model> model_;
  int kind_ = 0;
  std::string error_;
};

// outputHead: { hiddenOutput, codes: Int8Array [vocab x hidden], scales: Float32Array [vocab x hidden / 32] }, copied
// (the runtime keeps it for the model's lifetime; the JavaScript arrays may go).
std::shared_ptr<const acr::OutputHead> ReadOutputHead(const Napi::Object& o, const acr::ModelConfig& c) {
  Napi::Env env = o.Env();
  if (!o.Get("outputHead").IsObject()) ThrowType(env, "Expected outputHead to be { hiddenOutput, codes, scales }");
  const Napi::Object h = o.Get("outputHead").As<Napi::Object>();
  const size_t V = static_cast<size_t>(c.vocab), H = static_cast<size_t>(c.hidden);
  if (H % 32 != 0) ThrowRange(env, "Expected hiddenSize to be a multiple of 32 with an outputHead, got " + std::to_string(H));
  auto head = std::make_shared<acr::OutputHead>();
  head->hidden_output = GetString(h, "hiddenOutput");
  if (head->hidden_output.empty()) ThrowRange(env, "Expected outputHead.hiddenOutput to name a graph output");
  const ArrayArg codes = GetArray(h, "codes", napi_int8_array, "an Int8Array");
  const ArrayArg scales = GetArray(h, "scales", napi_float32_array, "a Float32Array");
  if (codes.length != V * H)
    ThrowRange(env, "Expected outputHead.codes to hold vocabSize x hiddenSize = " + std::to_string(V * H) + " values, got " +
                        std::to_string(codes.length));
  if (scales.length != V * H / 32)
    ThrowRange(env, "Expected outputHead.scales to hold vocabSize x hiddenSize / 32 = " + std::to_string(V * H / 32) +
                        " values, got " + std::to_string(scales.length));
  const int8_t* q = static_cast<const int8_t*>(codes.data);
  const float* sc = static_cast<const float*>(scales.data);
  for (size_t i = 0; i < scales.length; ++i)
    if (!std::isfinite(sc[i])) ThrowRange(env, "Expected outputHead.scales to be finite, got " + std::to_string(sc[i]) + " at " + std::to_string(i));
  for (size_t i = 0; i < codes.length; ++i)
    if (q[i] == -128) ThrowRange(env, "Expected outputHead.codes in [-127, 127], got -128 at " + std::to_string(i));
  head->codes.assign(q, q + codes.length);
  head->scales.assign(sc, sc + scales.length);
  return head;
}

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Object o = RequireObject(info, 0, "a model description object");
  acr::ModelConfig c;
  c.graph_path = GetString(o, "graphPath");
  if (Has(o, "graphBytes")) {
    const ArrayArg b = GetArray(o, "graphBytes", napi_uint8_array, "a Uint8Array");
    if (b.length == 0) ThrowRange(env, "Expected graphBytes to hold an ONNX model, got 0 bytes");
    c.graph_bytes.assign(static_cast<const char*>(b.data), b.length);
  }
  c.num_layers = static_cast<int>(GetInt(o, "numLayers", 1, 10000));
  c.num_kv_heads = static_cast<int>(GetInt(o, "numKvHeads", 1, 100000));
  c.head_dim = static_cast<int>(GetInt(o, "headDim", 1, 100000));
  c.vocab = static_cast<int>(GetInt(o, "vocabSize", 1, 1 << 30));
  c.hidden = static_cast<int>(GetInt(o, "hiddenSize", 1, 1 << 20));
  c.context_length = static_cast<int>(GetInt(o, "contextLength", 1, 1 << 24));
  c.logit_positions = StrOr(o, "logitPositions", "all");
  c.input_ids = StrOr(o, "inputIds", c.input_ids);
  c.attention_mask = StrOr(o, "attentionMask", c.attention_mask);
  c.position_ids = StrOr(o, "positionIds", c.position_ids);
  c.num_logits_to_keep = StrOr(o, "numLogitsToKeep", "");
  c.logits = StrOr(o, "logits", c.logits);
  const size_t L = static_cast<size_t>(c.num_layers);
  c.past_key = StrList(o, "pastKey", L);
  c.past_value = StrList(o, "pastValue", L);
  c.present_key = StrList(o, "presentKey", L);
  c.present_value = StrList(o, "presentValue", L);
  if (Has(o, "exits")) {
    if (!o.Get("exits").IsArray()) ThrowType(env, "Expected exits to be an array");
    const Napi::Array a = o.Get("exits").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsObject()) ThrowType(env, "Expected exits to hold objects");
      const Napi::Object e = a.Get(i).As<Napi::Object>();
      acr::ExitConfig x;
      x.layer = static_cast<int>(GetInt(e, "layer", 0, c.num_layers));
      x.hidden = StrOr(e, "hiddenOutput", "");
      x.logits = StrOr(e, "logitsOutput", "");
      c.exits.push_back(x);
    }
  }
  if (Has(o, "keyRotation")) {
    if (!o.Get("keyRotation").IsObject()) ThrowType(env, "Expected keyRotation to be { invFreq, interleaved }");
    const Napi::Object kr = o.Get("keyRotation").As<Napi::Object>();
    const Napi::Value f = kr.Get("invFreq");
    if (!f.IsTypedArray() || f.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      ThrowType(env, "Expected keyRotation.invFreq to be a Float64Array");
    const Napi::Float64Array a = f.As<Napi::Float64Array>();
    if (a.ElementLength() * 2 != static_cast<size_t>(c.head_dim))
      ThrowRange(env, "Expected keyRotation.invFreq to hold headDim / 2 = " + std::to_string(c.head_dim / 2) + " values, got " +
                          std::to_string(a.ElementLength()));
    for (size_t i = 0; i < a.ElementLength(); ++i) {
      if (!std::isfinite(a[i])) ThrowRange(env, "Expected keyRotation.invFreq to hold finite numbers");
      c.key_rotation_inv_freq.push_back(a[i]);
    }
    c.key_rotation_interleaved = kr.Get("interleaved").ToBoolean();
  }
  if (Has(o, "intraOpThreads")) c.intra_op_threads = static_cast<int>(GetInt(o, "intraOpThreads", 0, 1024));
  if (Has(o, "interOpThreads")) c.inter_op_threads = static_cast<int>(GetInt(o, "interOpThreads", 1, 1024));
  // allowSpinning: true, false, 'within-run' (spin between the ops of a Run only) or 'auto' (the policy of
  // native/runtime/spin_policy.h). src/config/load.ts validates the user's value; this guards the addon's surface.
  if (Has(o, "allowSpinning")) {
    const Napi::Value v = o.Get("allowSpinning");
    if (v.IsString()) {
      const std::string m = v.As<Napi::String>().Utf8Value();
      if (m == "within-run") c.allow_spinning = c.stop_spinning_after_run = true;
      else if (m == "auto") c.adaptive_spinning = true;
      else ThrowRange(env, "Expected allowSpinning to be true, false, 'within-run' or 'auto', got '" + m + "'");
    } else if (v.IsBoolean()) {
      c.allow_spinning = v.As<Napi::Boolean>().Value();
    } else {
      ThrowType(env, "Expected allowSpinning to be true, false, 'within-run' or 'auto'");
    }
  }
  if (Has(o, "optimizationLevel")) c.optimization_level = static_cast<int>(GetInt(o, "optimizationLevel", 0, 99));
  c.device = StrOr(o, "device", "cpu");
  if (c.device != "cpu" && c.device != "cuda") ThrowRange(env, "Expected device to be 'cpu' or 'cuda', got '" + c.device + "'");
  if (Has(o, "deviceId")) c.device_id = static_cast<int>(GetInt(o, "deviceId", 0, 1024));
  c.cuda_dir = StrOr(o, "cudaDir", "");
  if (Has(o, "outputHead")) c.output_head = ReadOutputHead(o, c);
  auto* w = new LoadWorker(env, std::move(c));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value DisposeModel(const Napi::CallbackInfo& info) {
  ModelHandle* h = GetHandle<ModelHandle>(info, 0, "a model");
  h->model.reset();  // the session lives on while sequences (or running steps) still hold it
  return info.Env().Undefined();
}

// ---- rtCreateSequence(model, { batch, maxLength, exitLayer?, exitLogits?, exitHidden?, exits? }) ----
Napi::Value CreateSequence(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelHandle* m = LiveModel(info, 0);
  const Napi::Object o = RequireObject(info, 1, "a sequence options object");
  acr::SequenceOptions so;
  so.batch = static_cast<int>(GetInt(o, "batch", 1, 65536));
  so.max_length = static_cast<int>(GetInt(o, "maxLength", 1, 1 << 24));
  if (Has(o, "exitLayer")) {
    so.exit_layer = static_cast<int>(GetInt(o, "exitLayer", 0, 1 << 20));
    so.exit_logits = Has(o, "exitLogits") && o.Get("exitLogits").ToBoolean();
    so.exit_hidden = Has(o, "exitHidden") && o.Get("exitHidden").ToBoolean();
  }
  if (Has(o, "exits")) {  // several exits: [{ layer, logits?, hidden? }, ...]
    if (!o.Get("exits").IsArray()) ThrowType(env, "Expected exits to be an array of { layer, logits?, hidden? }");
    const Napi::Array a = o.Get("exits").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsObject()) ThrowType(env, "Expected exits to hold { layer, logits?, hidden? } objects");
      const Napi::Object e = a.Get(i).As<Napi::Object>();
      acr::ExitRequest x;
      x.layer = static_cast<int>(GetInt(e, "layer", 0, 1 << 20));
      x.logits = Has(e, "logits") && e.Get("logits").ToBoolean();
      x.hidden = Has(e, "hidden") && e.Get("hidden").ToBoolean();
      so.exits.push_back(x);
    }
  }
  std::shared_ptr<acr::Sequence> seq;
  try {
    seq = std::make_shared<acr::Sequence>(m->model, so);
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("handle", Napi::External<SeqHandle>::New(env, new SeqHandle{seq, false, nullptr}, [](Napi::Env, SeqHandle* p) { delete p; }));
  r.Set("logits", View(env, seq->logits()));
  if (seq->exit_logits()) {
    r.Set("exitLogits", View(env, seq->exit_logits()));
    r.Set("scores", View(env, seq->scores()));
  }
  if (seq->exit_hidden()) r.Set("exitHidden", View(env, seq->exit_hidden()));
  Napi::Array xs = Napi::Array::New(env);  // every bound exit: { layer, logits?, hidden? } views
  for (size_t i = 0; i < seq->exits().size(); ++i) {
    const acr::ExitBuffers& x = seq->exits()[i];
    Napi::Object e = Napi::Object::New(env);
    e.Set("layer", x.layer);
    if (x.logits) e.Set("logits", View(env, x.logits));
    if (x.hidden) e.Set("hidden", View(env, x.hidden));
    xs.Set(static_cast<uint32_t>(i), e);
  }
  r.Set("exitOutputs", xs);
  r.Set("kvBytes", static_cast<double>(seq->kv_bytes()));
  r.Set("device", seq->on_device() ? "cuda" : "cpu");
  return r;
}

Napi::Value DisposeSequence(const Napi::CallbackInfo& info) {
  SeqHandle* h = GetHandle<SeqHandle>(info, 0, "a sequence");
  h->seq.reset();  // a running step holds its own reference and finishes first
  return info.Env().Undefined();
}

// ---- steps ----
// A worker's failure, recorded on the thread pool and turned into a rejection on the JS thread.
struct Failure {
  bool failed = false;
  int kind = 0;
  std::string error;
  // Runs fn; a RuntimeError keeps its kind and message, anything else becomes kState with `what` in front.
  template <typename F>
  void Capture(F&& fn, const char* what) {
    try {
      fn();
    } catch (const acr::RuntimeError& e) {
      failed = true;
      kind = e.kind;
      error = e.what();
    } catch (const std::exception& e) {
      failed = true;
      kind = acr::RuntimeError::kState;
      error = std::string(what) + ": " + e.what();
    }
  }
};

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, Napi::Value handle, SeqHandle* h, bool contrast, bool plain, ac::Params p, acr::SampleOptions sample)
      : Napi::AsyncWorker(env, "autocontrast:step"),
        deferred_(env),
        handle_(Napi::Persistent(handle)),
        h_(h),
        seq_(h->seq),
        contrast_(contrast),
        plain_(plain),
        params_(p),
        sample_(sample) {
    if (contrast) {
      const size_t B = static_cast<size_t>(seq_->batch());
      token_.resize(B);
      logprob_.resize(B);
      head_.resize(B);
    }
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void SetSparse(const acr::SparseHead& head, std::vector<Napi::Reference<Napi::Value>> keep) {
    sparse_ = true;
    head_weights_ = head;
    keep_ = std::move(keep);
  }
  void Execute() override {
    failure_.Capture(
        [&] {
          seq_->Run();
          if (contrast_ && plain_) seq_->SelectPlain(token_.data(), logprob_.data(), head_.data(), sample_);
          else if (contrast_)
            seq_->Contrast(params_, token_.data(), logprob_.data(), head_.data(), sample_, sparse_ ? &head_weights_ : nullptr);
        },
        "decode step failed");
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    h_->busy = false;
    if (failure_.failed) {
      deferred_.Reject(MakeError(env, failure_.kind, failure_.error));
      return;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("pastLength", seq_->past_length());
    r.Set("stepMs", seq_->timing().step_ms);
    r.Set("runMs", seq_->timing().run_ms);
    r.Set("headMs", seq_->timing().head_ms);
    if (contrast_) {
      const size_t B = std::min(token_.size(), static_cast<size_t>(seq_->rows()));
      Napi::Int32Array t = Napi::Int32Array::New(env, B), hs = Napi::Int32Array::New(env, B);
      Napi::Float32Array lp = Napi::Float32Array::New(env, B);
      for (size_t i = 0; i < B; ++i) {
        t[i] = token_[i];
        hs[i] = head_[i];
        lp[i] = logprob_[i];
      }
      r.Set("tokens", t);
      r.Set("logprobs", lp);
      r.Set("headSize", hs);
    }
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override {
    h_->busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Value> handle_;  // keeps h_ alive while the step runs
  SeqHandle* h_;
  std::shared_ptr<acr::Sequence> seq_;
  bool contrast_;  // a selection follows the run (the fused step)
  bool plain_;     // ... of the expert's own distribution (mode 2), not a contrast
  bool sparse_ = false;  // ... with the sparse amateur (head_weights_, kept alive by keep_)
  acr::SparseHead head_weights_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  ac::Params params_;
  acr::SampleOptions sample_;
  std::vector<int32_t> token_, head_;
  std::vector<float> logprob_;
  Failure failure_;
};

// The optional `sample: { temperature?, topK?, topP?, seed? }` of a contrast options object: the decoding
// chain's sampling, run inside the native step (values resolved by the generation configuration; checked here
// for memory safety and sense).
acr::SampleOptions GetSample(const Napi::Object& o, const acr::Sequence& seq) {
  acr::SampleOptions s;
  if (!Has(o, "sample")) return s;
  Napi::Env env = o.Env();
  if (!o.Get("sample").IsObject()) ThrowType(env, "Expected sample to be an object { temperature?, topK?, topP?, seed? }");
  const Napi::Object so = o.Get("sample").As<Napi::Object>();
  s.enabled = true;
  s.select.sample = true;
  if (Has(so, "temperature")) {
    const double t = GetNumber(so, "temperature");
    if (!(t > 0) || !std::isfinite(t)) ThrowRange(env, "Expected sample.temperature to be finite and > 0");
    s.select.temperature = t;
  }
  if (Has(so, "topK")) s.select.top_k = GetInt(so, "topK", 0, seq.vocab());
  if (Has(so, "topP")) {
    const double p = GetNumber(so, "topP");
    if (!(p > 0 && p <= 1)) ThrowRange(env, "Expected sample.topP to be in (0, 1]");
    s.select.top_p = p;
  }
  if (Has(so, "seed")) s.seed = GetInt(so, "seed", -((int64_t(1) << 53) - 1), (int64_t(1) << 53) - 1);
  return s;
}

// The selection settings of the fused step: `mode` 0 (acd) or 1 (cd) with the contrast parameters, or 2 (plain:
// the expert's own log-softmax, no contrast parameters read), each with the optional `sample`.
// With mode 0 or 1, the optional `sparse: { weight, weightDtype (0 f32, 1 f16, 2 bf16), bias? }` makes the amateur
// the exit's hidden state times that head matrix ([vocab x hidden] Float32Array, or Uint16Array bits).
struct Selection {
  bool plain = false;
  ac::Params params;
  acr::SampleOptions sample;
  bool sparse = false;
  acr::SparseHead head;
  std::vector<Napi::Value> keep;  // the typed arrays `head` points into (the worker references them)
};
Selection GetSelection(const Napi::Object& o, const acr::Sequence& seq) {
  Selection s;
  s.plain = GetInt(o, "mode", 0, 2) == 2;
  if (!s.plain) s.params = GetParams(o, static_cast<size_t>(seq.vocab()));
  s.sample = GetSample(o, seq);
  if (!s.plain && Has(o, "sparse")) {
    Napi::Env env = o.Env();
    if (!o.Get("sparse").IsObject()) ThrowType(env, "Expected sparse to be an object { weight, weightDtype, bias? }");
    const Napi::Object so = o.Get("sparse").As<Napi::Object>();
    if (!seq.exit_hidden()) ThrowRange(env, "a sparse amateur needs a sequence created with the exit's hidden state");
    const ac::DType dt = GetDType(so, "weightDtype");
    const size_t V = static_cast<size_t>(seq.vocab()), d = static_cast<size_t>(seq.hidden());
    const ArrayArg w = GetLogits(so, "weight", dt);
    if (w.length != V * d)
      ThrowRange(env, "Expected sparse.weight to hold vocabSize x hiddenSize = " + std::to_string(V * d) + " values, got " + std::to_string(w.length));
    s.sparse = true;
    s.head.weight = w.data;
    s.head.dtype = dt;
    s.keep.push_back(so.Get("weight"));
    if (Has(so, "bias")) {
      const ArrayArg b = GetLogits(so, "bias", dt);
      if (b.length != V) ThrowRange(env, "Expected sparse.bias to hold vocabSize = " + std::to_string(V) + " values, got " + std::to_string(b.length));
      s.head.bias = b.data;
      s.keep.push_back(so.Get("bias"));
    }
  }
  return s;
}

// References that keep JavaScript values (the sparse head's arrays) alive while a worker uses their memory.
std::vector<Napi::Reference<Napi::Value>> Keep(const std::vector<Napi::Value>& values) {
  std::vector<Napi::Reference<Napi::Value>> refs;
  for (const Napi::Value& v : values) refs.push_back(Napi::Persistent(v));
  return refs;
}

Napi::Value Launch(const Napi::CallbackInfo& info, SeqHandle* h, bool contrast, const Selection& sel = Selection()) {
  auto* w = new StepWorker(info.Env(), info[0], h, contrast, sel.plain, sel.params, sel.sample);
  if (sel.sparse) w->SetSparse(sel.head, Keep(sel.keep));
  h->busy = true;
  Napi::Promise promise = w->Promise();
  w->Queue();
  return promise;
}

// The prompts of rtPrefill and rtDecode: `tokens` holds them end to end, `lengths` one length per row.
std::vector<std::vector<int32_t>> PromptRows(Napi::Env env, const Napi::Int32Array& tok, const Napi::Int32Array& len) {
  std::vector<std::vector<int32_t>> rows;
  size_t off = 0;
  for (size_t b = 0; b < len.ElementLength(); ++b) {
    const int32_t n = len[b];
    if (n < 0 || off + static_cast<size_t>(n) > tok.ElementLength()) ThrowRange(env, "prompt lengths do not match the token array");
    rows.emplace_back(tok.Data() + off, tok.Data() + off + n);
    off += static_cast<size_t>(n);
  }
  if (off != tok.ElementLength()) ThrowRange(env, "prompt lengths do not add up to the token count");
  return rows;
}

// rtPrefill(seq, Int32Array tokens (concatenated prompts), Int32Array lengths, contrastParams?) -> Promise
Napi::Value Prefill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SeqHandle* h = LiveSeq(info, 0);
  if (info.Length() < 3 || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowType(env, "Expected (sequence, Int32Array tokens, Int32Array lengths)");
  const std::vector<std::vector<int32_t>> rows = PromptRows(env, info[1].As<Napi::Int32Array>(), info[2].As<Napi::Int32Array>());
  const bool contrast = info.Length() > 3 && info[3].IsObject();
  Selection sel;
  if (contrast) sel = GetSelection(info[3].As<Napi::Object>(), *h->seq);
  try {
    h->seq->StagePrefill(rows);
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
  return Launch(info, h, contrast, sel);
}

Napi::Value StepImpl(const Napi::CallbackInfo& info, bool contrast) {
  Napi::Env env = info.Env();
  SeqHandle* h = LiveSeq(info, 0);
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowType(env, "Expected (sequence, Int32Array tokens)");
  Selection sel;
  if (contrast) sel = GetSelection(RequireObject(info, 2, "a contrast options object"), *h->seq);
  const Napi::Int32Array tok = info[1].As<Napi::Int32Array>();
  try {
    h->seq->StageStep(tok.Data(), tok.ElementLength());
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
  return Launch(info, h, contrast, sel);
}

Napi::Value Reorder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SeqHandle* h = LiveSeq(info, 0);
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowType(env, "Expected (sequence, Int32Array parents)");
  const Napi::Int32Array par = info[1].As<Napi::Int32Array>();
  try {
    h->seq->StageReorder(par.Data(), par.ElementLength());
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
  return env.Undefined();
}

// rtReadOutputs(seq): device 'cuda' copies the last step's logits / exits / scores into the host views
// (synchronous); a no-op on the CPU.
Napi::Value ReadOutputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SeqHandle* h = LiveSeq(info, 0);
  try {
    h->seq->ReadOutputs();
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
  return env.Undefined();
}

// rtCudaStatus(cudaDir, deviceId) -> '' when device 'cuda' can be used, else why not (after rtInit).
Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) ThrowType(env, "Expected (cudaDir, deviceId)");
  try {
    return Napi::String::New(env, acr::CudaUnavailableReason(info[0].As<Napi::String>().Utf8Value(),
                                                             info[1].As<Napi::Number>().Int32Value()));
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
}

// ---- rows joining and leaving (continuous batching) ----
// rtAdmit(dst, src, srcRow) -> Promise<{ row, pastLength }>: src's row joins dst as its last row (the copy runs on
// the thread pool; both sequences are busy until it resolves).
class AdmitWorker : public Napi::AsyncWorker {
 public:
  AdmitWorker(Napi::Env env, Napi::Value dst_handle, SeqHandle* dst, Napi::Value src_handle, SeqHandle* src, int src_row)
      : Napi::AsyncWorker(env, "autocontrast:admit"),
        deferred_(env),
        dst_ref_(Napi::Persistent(dst_handle)),
        src_ref_(Napi::Persistent(src_handle)),
        dst_h_(dst),
        src_h_(src),
        dst_(dst->seq),
        src_(src->seq),
        src_row_(src_row) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override { failure_.Capture([&] { row_ = dst_->Admit(*src_, src_row_); }, "admitting the row failed"); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    dst_h_->busy = false;
    src_h_->busy = false;
    if (failure_.failed) {
      deferred_.Reject(MakeError(env, failure_.kind, failure_.error));
      return;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("row", row_);
    r.Set("pastLength", dst_->past_length());
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override {
    dst_h_->busy = false;
    src_h_->busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Value> dst_ref_, src_ref_;  // keep the handles alive while the copy runs
  SeqHandle *dst_h_, *src_h_;
  std::shared_ptr<acr::Sequence> dst_, src_;
  int src_row_;
  int row_ = -1;
  Failure failure_;
};

Napi::Value Admit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SeqHandle* dst = LiveSeq(info, 0);
  SeqHandle* src = LiveSeq(info, 1);
  if (info.Length() < 3 || !info[2].IsNumber()) ThrowType(env, "Expected (sequence, source sequence, source row)");
  const double r = info[2].As<Napi::Number>().DoubleValue();
  if (!(r >= 0 && r < 65536) || std::floor(r) != r) ThrowRange(env, "Expected the source row to be an integer in [0, 65536)");
  if (dst == src) ThrowRange(env, "a sequence cannot admit a row of itself");
  try {
    dst->seq->CheckAdmit(*src->seq, static_cast<int>(r));
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
  auto* w = new AdmitWorker(env, info[0], dst, info[1], src, static_cast<int>(r));
  dst->busy = true;
  src->busy = true;
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// rtRemoveRow(seq, row) -> the index the last row had (it now lives at `row`; == row when it was the last).
Napi::Value RemoveRow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SeqHandle* h = LiveSeq(info, 0);
  if (info.Length() < 2 || !info[1].IsNumber()) ThrowType(env, "Expected (sequence, row)");
  const double r = info[1].As<Napi::Number>().DoubleValue();
  if (!(r >= 0 && r < 65536) || std::floor(r) != r) ThrowRange(env, "Expected the row to be an integer in [0, 65536)");
  try {
    return Napi::Number::New(env, h->seq->StageRemove(static_cast<int>(r)));
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
}

Napi::Value Rows(const Napi::CallbackInfo& info) {
  SeqHandle* h = LiveSeq(info, 0);  // idle only: an admit changes the count on the worker thread
  return Napi::Number::New(info.Env(), h->seq->rows());
}

Napi::Value PastLength(const Napi::CallbackInfo& info) {
  SeqHandle* h = LiveSeq(info, 0, false);
  return Napi::Number::New(info.Env(), h->seq->past_length());
}

// ---- allowSpinning 'auto' ----
// rtSpinStats(model) -> { decodeSteps, spinningSteps, probes, twin }: counts since the model was loaded.
Napi::Value SpinStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const acr::SpinStats st = LiveModel(info, 0)->model->spin_stats();
  Napi::Object r = Napi::Object::New(env);
  r.Set("decodeSteps", Napi::Number::New(env, static_cast<double>(st.decode_steps)));
  r.Set("spinningSteps", Napi::Number::New(env, static_cast<double>(st.spinning_steps)));
  r.Set("probes", Napi::Number::New(env, static_cast<double>(st.probes)));
  r.Set("twin", Napi::Boolean::New(env, st.twin));
  return r;
}

// rtSpinPolicyTrace({ off: Float64Array, on: Float64Array, rows?: Int32Array, decode?: Uint8Array,
//   hint?: { spinning, interval } }) -> { spinning: Uint8Array, probe: Uint8Array, hint: { spinning, interval } }
// Runs the policy of native/runtime/spin_policy.h on synthetic step times: step i takes off[i] ms in the
// non-spinning session and on[i] in the spinning one; returns the mode each step ran in and whether it was a
// probe. The same functions as Sequence::Run, without a clock, so that tests can check its decisions.
Napi::Value SpinPolicyTrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Object o = RequireObject(info, 0, "a trace object");
  auto f64 = [&](const char* key) {
    const Napi::Value v = o.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      ThrowType(env, std::string("Expected ") + key + " to be a Float64Array");
    return v.As<Napi::Float64Array>();
  };
  const Napi::Float64Array off = f64("off"), on = f64("on");
  const size_t n = off.ElementLength();
  if (on.ElementLength() != n) ThrowRange(env, "Expected off and on to have the same length");
  for (size_t i = 0; i < n; ++i)
    if (!(off[i] > 0) || !(on[i] > 0) || !std::isfinite(off[i]) || !std::isfinite(on[i]))
      ThrowRange(env, "Expected positive finite step times");
  std::vector<int32_t> rows(n, 1);
  std::vector<uint8_t> decode(n, 1);
  if (Has(o, "rows")) {
    const Napi::Value v = o.Get("rows");
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        v.As<Napi::Int32Array>().ElementLength() != n)
      ThrowType(env, "Expected rows to be an Int32Array as long as off");
    for (size_t i = 0; i < n; ++i) rows[i] = v.As<Napi::Int32Array>()[i];
  }
  if (Has(o, "decode")) {
    const Napi::Value v = o.Get("decode");
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        v.As<Napi::Uint8Array>().ElementLength() != n)
      ThrowType(env, "Expected decode to be a Uint8Array as long as off");
    for (size_t i = 0; i < n; ++i) decode[i] = v.As<Napi::Uint8Array>()[i];
  }
  acr::SpinHint hint;
  if (Has(o, "hint")) {
    if (!o.Get("hint").IsObject()) ThrowType(env, "Expected hint to be { spinning, interval }");
    const Napi::Object h = o.Get("hint").As<Napi::Object>();
    hint.mode = h.Get("spinning").ToBoolean().Value() ? acr::SpinMode::kOn : acr::SpinMode::kOff;
    hint.interval = static_cast<int>(GetInt(h, "interval", 1, acr::SpinPolicy::kMaxInterval));
  }
  acr::SpinState s = acr::SpinStart(hint);
  Napi::Uint8Array spinning = Napi::Uint8Array::New(env, n), probe = Napi::Uint8Array::New(env, n);
  for (size_t i = 0; i < n; ++i) {
    const bool d = decode[i] != 0;
    const acr::SpinMode m = acr::SpinNext(s, d, rows[i]);
    spinning[i] = m == acr::SpinMode::kOn;
    probe[i] = d && m != s.mode;
    acr::SpinObserve(s, m, m == acr::SpinMode::kOn ? on[i] : off[i], rows[i], d);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("spinning", spinning);
  r.Set("probe", probe);
  Napi::Object h = Napi::Object::New(env);
  h.Set("spinning", Napi::Boolean::New(env, s.mode == acr::SpinMode::kOn));
  h.Set("interval", Napi::Number::New(env, s.interval));
  r.Set("hint", h);
  return r;
}

// ---- the fused decode loop ----
// rtDecode(seq, Int32Array tokens, Int32Array lengths, params, { maxSteps, eos: Int32Array, filler }, onStep)
//   -> Promise<{ steps, pastLength }>
// params: the contrast object of rtPrefill (mode 0 acd, 1 cd), or { mode: 2 } for plain decoding, each with the
// optional `sample`. onStep(tokens: Int32Array, logprobs: Float32Array, step, stepMs, runMs) is called on the
// JavaScript thread for every selection, in order, while the worker goes on with the next step (the queue never
// makes it wait); returning true asks the loop to stop before its next step, as rtDecodeStop(seq) does. Every
// onStep call has happened when the promise settles.
struct LoopItem {  // one row of one selection, as queued for the JavaScript thread
  int32_t step, token, head;
  float logprob;
  double step_ms, run_ms;
};

class DecodeWorker : public Napi::AsyncProgressQueueWorker<LoopItem> {
 public:
  DecodeWorker(Napi::Function on_step, Napi::Value handle, SeqHandle* h, acr::LoopSettings settings,
               std::vector<Napi::Reference<Napi::Value>> keep)
      : Napi::AsyncProgressQueueWorker<LoopItem>(on_step, "autocontrast:decode"),
        keep_(std::move(keep)),
        deferred_(on_step.Env()),
        handle_(Napi::Persistent(handle)),
        h_(h),
        seq_(h->seq),
        stop_(std::make_shared<std::atomic<bool>>(false)),
        settings_(std::move(settings)) {
    h->stop = stop_;
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute(const ExecutionProgress& progress) override {
    std::vector<LoopItem> items;
    failure_.Capture(
        [&] {
          steps_ = acr::RunLoop(*seq_, settings_, *stop_, [&](const acr::LoopStep& s) {
            items.resize(static_cast<size_t>(s.rows));
            for (int r = 0; r < s.rows; ++r) items[r] = {s.step, s.tokens[r], s.head[r], s.logprobs[r], s.step_ms, s.run_ms};
            progress.Send(items.data(), items.size());  // copied into the queue; never waits for JavaScript
          });
        },
        "decode loop failed");
  }
  void OnProgress(const LoopItem* items, size_t count) override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (count == 0 || js_error_) return;  // after a throwing onStep nothing more is delivered
    Napi::Int32Array t = Napi::Int32Array::New(env, count);
    Napi::Float32Array lp = Napi::Float32Array::New(env, count);
    for (size_t i = 0; i < count; ++i) {
      t[i] = items[i].token;
      lp[i] = items[i].logprob;
    }
    try {
      const Napi::Value r = Callback().Call({t, lp, Napi::Number::New(env, items[0].step), Napi::Number::New(env, items[0].step_ms),
                                             Napi::Number::New(env, items[0].run_ms)});
      if (r.IsBoolean() && r.As<Napi::Boolean>().Value()) stop_->store(true, std::memory_order_release);
    } catch (const Napi::Error& e) {
      js_error_ = true;
      error_ = Napi::Persistent(static_cast<Napi::Value>(e.Value()));
      stop_->store(true, std::memory_order_release);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Finish();
    if (js_error_) {
      deferred_.Reject(error_.Value());
    } else if (failure_.failed) {
      deferred_.Reject(MakeError(env, failure_.kind, failure_.error));
    } else {
      Napi::Object r = Napi::Object::New(env);
      r.Set("steps", steps_);
      r.Set("pastLength", seq_->past_length());
      deferred_.Resolve(r);
    }
  }
  void OnError(const Napi::Error& e) override {
    Finish();
    deferred_.Reject(e.Value());
  }

 private:
  void Finish() {
    h_->busy = false;
    if (h_->stop == stop_) h_->stop.reset();
  }
  std::vector<Napi::Reference<Napi::Value>> keep_;  // the sparse head's arrays, alive while the loop runs
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Value> handle_;  // keeps h_ alive while the loop runs
  SeqHandle* h_;
  std::shared_ptr<acr::Sequence> seq_;
  std::shared_ptr<std::atomic<bool>> stop_;
  acr::LoopSettings settings_;
  int steps_ = 0;
  bool js_error_ = false;
  Napi::Reference<Napi::Value> error_;
  Failure failure_;
};

// Reads an Int32Array field holding token ids (range-checked by acr::CheckLoop).
std::vector<int32_t> TokenList(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowType(o.Env(), std::string("Expected ") + key + " to be an Int32Array of token ids");
  const Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (a.ElementLength() > 4096) ThrowRange(o.Env(), std::string("Expected at most 4096 ") + key + " token ids");
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SeqHandle* h = LiveSeq(info, 0);
  if (info.Length() < 6 || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !info[3].IsObject() || !info[4].IsObject() ||
      !info[5].IsFunction())
    ThrowType(env, "Expected (sequence, Int32Array tokens, Int32Array lengths, params, limits, onStep function)");
  const std::vector<std::vector<int32_t>> rows = PromptRows(env, info[1].As<Napi::Int32Array>(), info[2].As<Napi::Int32Array>());
  int longest = 0;
  for (const auto& row : rows) longest = std::max(longest, static_cast<int>(row.size()));
  const Napi::Object po = info[3].As<Napi::Object>(), lo = info[4].As<Napi::Object>();
  acr::LoopSettings s;
  const Selection sel = GetSelection(po, *h->seq);
  s.plain = sel.plain;
  s.params = sel.params;
  s.sample = sel.sample;
  s.sparse = sel.sparse;
  s.head = sel.head;
  s.max_steps = static_cast<int>(GetInt(lo, "maxSteps", 1, 1 << 24));
  s.eos = TokenList(lo, "eos");
  s.filler = static_cast<int32_t>(GetInt(lo, "filler", 0, h->seq->vocab() - 1));
  try {
    acr::CheckLoop(*h->seq, s, longest);
    h->seq->StagePrefill(rows);
  } catch (const acr::RuntimeError& e) {
    Rethrow(env, e);
  }
  auto* w = new DecodeWorker(info[5].As<Napi::Function>(), info[0], h, std::move(s), Keep(sel.keep));
  h->busy = true;
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// rtDecodeStop(seq): the running decode loop stops before its next step (no-op when none runs).
Napi::Value DecodeStop(const Napi::CallbackInfo& info) {
  SeqHandle* h = GetHandle<SeqHandle>(info, 0, "a sequence");
  if (h->stop) h->stop->store(true, std::memory_order_release);
  return info.Env().Undefined();
}

}  // namespace

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("rtAvailable", Napi::Boolean::New(env, true));
  exports.Set("rtInit", Napi::Function::New(env, Init));
  exports.Set("rtLoadModel", Napi::Function::New(env, LoadModel));
  exports.Set("rtDisposeModel", Napi::Function::New(env, DisposeModel));
  exports.Set("rtCreateSequence", Napi::Function::New(env, CreateSequence));
  exports.Set("rtDisposeSequence", Napi::Function::New(env, DisposeSequence));
  exports.Set("rtPrefill", Napi::Function::New(env, Prefill));
  exports.Set("rtStep", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return StepImpl(i, false); }));
  exports.Set("rtStepAndContrast",
              Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return StepImpl(i, true); }));
  exports.Set("rtReorder", Napi::Function::New(env, Reorder));
  exports.Set("rtPastLength", Napi::Function::New(env, PastLength));
  exports.Set("rtAdmit", Napi::Function::New(env, Admit));
  exports.Set("rtRemoveRow", Napi::Function::New(env, RemoveRow));
  exports.Set("rtRows", Napi::Function::New(env, Rows));
  exports.Set("rtReadOutputs", Napi::Function::New(env, ReadOutputs));
  exports.Set("rtCudaStatus", Napi::Function::New(env, CudaStatus));
  exports.Set("rtDecode", Napi::Function::New(env, Decode));
  exports.Set("rtDecodeStop", Napi::Function::New(env, DecodeStop));
  exports.Set("rtSpinStats", Napi::Function::New(env, SpinStats));
  exports.Set("rtSpinPolicyTrace", Napi::Function::New(env, SpinPolicyTrace));
}

#endif  // AC_HAVE_ORT

}  // namespace acb
