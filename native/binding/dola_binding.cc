// Layer selection by divergence (DoLa, amateurLayer 'auto'; native/kernels/dola.h): request parsing, the
// synchronous call and the libuv-pool form. Every size, type and overlap is checked here again after the
// TypeScript layer (src/kernel/dola.ts), so no JavaScript input reaches the kernel with a wrong shape.
#include "dola_binding.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "args.h"
#include "cuda_params.h"
#include "dola.h"

namespace acb {
namespace {

constexpr int64_t kMax = std::numeric_limits<int32_t>::max();

struct Span {
  std::string name;
  const void* begin;
  size_t bytes;
};

bool Overlaps(const Span& a, const Span& b) {
  const auto a0 = reinterpret_cast<uintptr_t>(a.begin), b0 = reinterpret_cast<uintptr_t>(b.begin);
  return a.bytes && b.bytes && a0 < b0 + b.bytes && b0 < a0 + a.bytes;
}

// Element i of the JavaScript Array at key: a Float32Array of exactly `want` values.
const float* ListItem(const Napi::Object& req, const char* key, uint32_t i, size_t want, const std::string& shape,
                      std::vector<Span>* spans) {
  const Napi::Env env = req.Env();
  const Napi::Value v = req.Get(key).As<Napi::Array>().Get(i);
  const std::string name = std::string(key) + "[" + std::to_string(i) + "]";
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    ThrowType(env, "Expected " + name + " to be a Float32Array");
  const Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() != want)
    ThrowRange(env, "Expected " + name + " to have " + std::to_string(want) + " elements (" + shape + ") but it has " +
                        std::to_string(ta.ElementLength()));
  const float* p = reinterpret_cast<const float*>(static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  spans->push_back({name, p, want * 4});
  return p;
}

void CheckLength(Napi::Env env, const char* key, size_t got, size_t want, const std::string& shape) {
  if (got != want)
    ThrowRange(env, std::string("Expected ") + key + " to have " + std::to_string(want) + " elements (" + shape +
                        ") but it has " + std::to_string(got));
}

// The head in int8 blocks (headQ8 [V x d] Int8Array, headScale [V x d / 32] Float32Array; d a multiple of 32).
void ReadQ8(const Napi::Object& o, size_t V, size_t d, ac::dola::Candidates* c, std::vector<Span>* inputs) {
  const Napi::Env env = o.Env();
  if (d % 32 != 0) ThrowRange(env, "headQ8 needs hiddenSize to be a multiple of 32, got " + std::to_string(d));
  const ArrayArg q = GetArray(o, "headQ8", napi_int8_array, "an Int8Array");
  CheckLength(env, "headQ8", q.length, V * d, "vocabSize x hiddenSize");
  const ArrayArg s = GetArray(o, "headScale", napi_float32_array, "a Float32Array");
  CheckLength(env, "headScale", s.length, V * d / 32, "vocabSize x hiddenSize / 32");
  const float* sc = static_cast<const float*>(s.data);
  for (size_t i = 0; i < s.length; ++i)
    if (!std::isfinite(sc[i])) ThrowRange(env, "Expected finite values in headScale but index " + std::to_string(i) + " is not");
  c->q8 = static_cast<const int8_t*>(q.data);
  c->q8_scale = sc;
  inputs->push_back({"headQ8", q.data, q.length});
  inputs->push_back({"headScale", s.data, s.length * 4});
}

// The packed int8 head of dolaHead 'int8' (head_i8.h): headI8Codes [ceil(V / 16) x d x 16] Uint8Array, headI8Scales
// [ceil(V / 16) x d / 32 x 16] Float32Array of finite values (d a multiple of 32).
void ReadI8(const Napi::Object& o, size_t V, size_t d, ac::i8::Head* w, std::vector<Span>* inputs) {
  const Napi::Env env = o.Env();
  if (d % ac::i8::kBlock != 0) ThrowRange(env, "headI8Codes needs hiddenSize to be a multiple of 32, got " + std::to_string(d));
  const size_t tiles = (V + ac::i8::kTileRows - 1) / ac::i8::kTileRows;
  const ArrayArg c = GetArray(o, "headI8Codes", napi_uint8_array, "a Uint8Array");
  CheckLength(env, "headI8Codes", c.length, tiles * d * ac::i8::kTileRows, "ceil(vocabSize / 16) x hiddenSize x 16");
  const ArrayArg s = GetArray(o, "headI8Scales", napi_float32_array, "a Float32Array");
  CheckLength(env, "headI8Scales", s.length, tiles * (d / ac::i8::kBlock) * ac::i8::kTileRows,
              "ceil(vocabSize / 16) x hiddenSize / 32 x 16");
  const float* sc = static_cast<const float*>(s.data);
  for (size_t i = 0; i < s.length; ++i)
    if (!std::isfinite(sc[i])) ThrowRange(env, "Expected finite values in headI8Scales but index " + std::to_string(i) + " is not");
  w->codes = static_cast<const uint8_t*>(c.data);
  w->scales = sc;
  w->rows = V;
  w->d = d;
  inputs->push_back({"headI8Codes", c.data, c.length});
  inputs->push_back({"headI8Scales", s.data, s.length * 4});
}

// A parsed request; the pointer tables live here so the kernel's Request can point into them.
struct DolaJob {
  ac::dola::Request req;
  std::vector<const float*> lists;
  ac::i8::Head i8;  // the int8 head when the request has one (req.cand.i8 points here)
  std::vector<ac::RowStats> stats;
  int32_t* head_size_out = nullptr;
  float* head_mass_out = nullptr;
  const ac::Ops* ops = nullptr;
  int threads = 0;

  std::string Run() {
    stats.resize(req.rows);
    req.stats = stats.data();
    try {
      ac::dola::select_and_contrast(*ops, req, threads);
    } catch (const ac::KernelError& e) {
      const char* what = e.code == ac::KernelError::kNonFiniteExpert ? "final logits" : "candidate logits";
      return NonFiniteMessage(what, static_cast<int64_t>(e.row), static_cast<int64_t>(e.index));
    }
    for (size_t r = 0; r < req.rows; ++r) {
      if (head_size_out) head_size_out[r] = stats[r].head_size;
      if (head_mass_out) head_mass_out[r] = stats[r].head_mass;
    }
    return {};
  }
};

void ParseDola(const Napi::Object& o, DolaJob* job, std::vector<Napi::Value>* keep) {
  const Napi::Env env = o.Env();
  ac::dola::Request& r = job->req;
  r.vocab = static_cast<size_t>(GetInt(o, "vocab", 1, kMax));
  r.rows = static_cast<size_t>(GetInt(o, "rows", 1, kMax));
  const size_t V = r.vocab, R = r.rows;
  const std::string rv = "rows x vocabSize = " + std::to_string(R) + " x " + std::to_string(V);
  std::vector<Span> inputs, outputs;

  // finalLogits is read, or written when the final layer comes as hidden states (finalHidden, below).
  const ArrayArg fin = GetArray(o, "finalLogits", napi_float32_array, "a Float32Array");
  CheckLength(env, "finalLogits", fin.length, R * V, rv);
  keep->push_back(o.Get("finalLogits"));

  const bool projected = Has(o, "hidden");
  if (Has(o, "finalHidden") && !projected) ThrowType(env, "finalHidden needs the candidates as hidden states");
  const char* key = projected ? "hidden" : "candidateLogits";
  if (!o.Get(key).IsArray()) ThrowType(env, std::string("Expected ") + key + " to be an Array of Float32Arrays");
  const uint32_t C = o.Get(key).As<Napi::Array>().Length();
  if (C < 1) ThrowRange(env, std::string("Expected ") + key + " to hold at least one candidate layer");
  keep->push_back(o.Get(key));
  r.cand.count = C;
  job->lists.resize(C);
  if (projected) {
    const size_t d = static_cast<size_t>(GetInt(o, "hiddenSize", 1, 1 << 20));
    const std::string rd = "rows x hiddenSize = " + std::to_string(R) + " x " + std::to_string(d);
    for (uint32_t c = 0; c < C; ++c) {
      job->lists[c] = ListItem(o, key, c, R * d, rd, &inputs);
      for (size_t i = 0; i < R * d; ++i)
        if (!std::isfinite(job->lists[c][i]))
          ThrowRange(env, "Expected finite values in hidden[" + std::to_string(c) + "] but row " +
                              std::to_string(i / d) + ", index " + std::to_string(i % d) + " is " +
                              (std::isnan(job->lists[c][i]) ? "NaN" : "infinite"));
    }
    const ac::DType wdt = GetDType(o, "weightDtype");
    if (Has(o, "headQ8")) {
      ReadQ8(o, V, d, &r.cand, &inputs);
      keep->push_back(o.Get("headQ8"));
      keep->push_back(o.Get("headScale"));
    } else {
      const ArrayArg w = GetLogits(o, "headWeight", wdt);
      if (w.length / V != d || w.length % V != 0) CheckLength(env, "headWeight", w.length, V * d, "vocabSize x hiddenSize");
      keep->push_back(o.Get("headWeight"));
      inputs.push_back({"headWeight", w.data, w.length * ac::dtype_size(wdt)});
      r.cand.weight = w.data;
    }
    if (Has(o, "headI8Codes")) {
      ReadI8(o, V, d, &job->i8, &inputs);
      keep->push_back(o.Get("headI8Codes"));
      keep->push_back(o.Get("headI8Scales"));
      r.cand.i8 = &job->i8;
      r.cand.i8_final = Has(o, "i8Final") && GetInt(o, "i8Final", 0, 1) == 1;
    } else if (Has(o, "i8Final")) {
      ThrowType(env, "i8Final needs headI8Codes");
    }
    r.cand.hidden = job->lists.data();
    r.cand.d = d;
    r.cand.weight_dtype = wdt;
    if (Has(o, "headBias")) {
      const ArrayArg b = GetLogits(o, "headBias", wdt);
      CheckLength(env, "headBias", b.length, V, "vocabSize");
      keep->push_back(o.Get("headBias"));
      inputs.push_back({"headBias", b.data, b.length * ac::dtype_size(wdt)});
      r.cand.bias = b.data;
    }
    if (Has(o, "finalHidden")) {
      const ArrayArg fh = GetArray(o, "finalHidden", napi_float32_array, "a Float32Array");
      CheckLength(env, "finalHidden", fh.length, R * d, rd);
      const float* h = static_cast<const float*>(fh.data);
      for (size_t i = 0; i < R * d; ++i)
        if (!std::isfinite(h[i]))
          ThrowRange(env, "Expected finite values in finalHidden but row " + std::to_string(i / d) + ", index " +
                              std::to_string(i % d) + " is " + (std::isnan(h[i]) ? "NaN" : "infinite"));
      keep->push_back(o.Get("finalHidden"));
      inputs.push_back({"finalHidden", fh.data, fh.length * 4});
      r.final_hidden = h;
    }
  } else {
    for (uint32_t c = 0; c < C; ++c) job->lists[c] = ListItem(o, key, c, R * V, rv, &inputs);
    r.cand.logits = job->lists.data();
  }

  const int64_t div = GetInt(o, "divergence", 0, 1);
  r.divergence = static_cast<ac::dola::Divergence>(div);
  const int64_t output = GetInt(o, "output", 0, 2);
  r.output = static_cast<ac::dola::Output>(output);
  r.params = GetParams(o, V);

  if (r.final_hidden) {
    r.final_out = static_cast<float*>(fin.data);
    outputs.push_back({"finalLogits", fin.data, fin.length * 4});
  } else {
    r.final_logits = static_cast<const float*>(fin.data);
    inputs.push_back({"finalLogits", fin.data, fin.length * 4});
  }

  const ArrayArg out = GetArray(o, "out", napi_float32_array, "a Float32Array");
  CheckLength(env, "out", out.length, R * V, rv);
  r.out = static_cast<float*>(out.data);
  keep->push_back(o.Get("out"));
  outputs.push_back({"out", out.data, out.length * 4});
  const ArrayArg chosen = GetArray(o, "chosen", napi_int32_array, "an Int32Array");
  CheckLength(env, "chosen", chosen.length, R, "one per row");
  r.chosen = static_cast<int32_t*>(chosen.data);
  keep->push_back(o.Get("chosen"));
  outputs.push_back({"chosen", chosen.data, chosen.length * 4});
  if (Has(o, "divergences")) {
    const ArrayArg dv = GetArray(o, "divergences", napi_float32_array, "a Float32Array");
    CheckLength(env, "divergences", dv.length, R * C, "rows x candidates");
    r.divergences = static_cast<float*>(dv.data);
    keep->push_back(o.Get("divergences"));
    outputs.push_back({"divergences", dv.data, dv.length * 4});
  }
  if (Has(o, "headSize")) {
    const ArrayArg hs = GetArray(o, "headSize", napi_int32_array, "an Int32Array");
    CheckLength(env, "headSize", hs.length, R, "one per row");
    job->head_size_out = static_cast<int32_t*>(hs.data);
    keep->push_back(o.Get("headSize"));
    outputs.push_back({"headSize", hs.data, hs.length * 4});
  }
  if (Has(o, "headMass")) {
    const ArrayArg hm = GetArray(o, "headMass", napi_float32_array, "a Float32Array");
    CheckLength(env, "headMass", hm.length, R, "one per row");
    job->head_mass_out = static_cast<float*>(hm.data);
    keep->push_back(o.Get("headMass"));
    outputs.push_back({"headMass", hm.data, hm.length * 4});
  }
  // Outputs are written while inputs are still read: any overlap would corrupt the result.
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (const Span& in : inputs)
      if (Overlaps(outputs[i], in)) ThrowRange(env, outputs[i].name + " must not share memory with " + in.name);
    for (size_t j = i + 1; j < outputs.size(); ++j)
      if (Overlaps(outputs[i], outputs[j]))
        ThrowRange(env, outputs[i].name + " must not share memory with " + outputs[j].name);
  }
  job->ops = &GetOps(o);
  job->threads = Has(o, "threads") ? static_cast<int>(GetInt(o, "threads", 0, 1024)) : 0;
}

Napi::Value DolaSync(const Napi::CallbackInfo& info) {
  const Napi::Object req = RequireObject(info, 0, "a layer-selection request object");
  std::vector<Napi::Value> keep;
  DolaJob job;
  ParseDola(req, &job, &keep);
  const std::string err = job.Run();
  if (!err.empty()) ThrowRange(info.Env(), err);
  return req.Get("out");
}

class DolaWorker : public Napi::AsyncWorker {
 public:
  DolaWorker(Napi::Env env, DolaJob job, const std::vector<Napi::Value>& keep, Napi::Value out)
      : Napi::AsyncWorker(env, "autocontrast:dola"), job_(std::move(job)), deferred_(env) {
    // Hold every array the job points into so the GC cannot free them while the worker runs.
    for (const Napi::Value& v : keep) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    out_ = Napi::Persistent(out.As<Napi::Object>());
    // The pointer table moved with the job: point the request at the moved copy.
    if (job_.req.cand.hidden) job_.req.cand.hidden = job_.lists.data();
    if (job_.req.cand.logits) job_.req.cand.logits = job_.lists.data();
    if (job_.req.cand.i8) job_.req.cand.i8 = &job_.i8;
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override { error_ = job_.Run(); }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (error_.empty()) deferred_.Resolve(out_.Value());
    else deferred_.Reject(Napi::RangeError::New(Env(), error_).Value());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  DolaJob job_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
  Napi::ObjectReference out_;
  std::string error_;
};

Napi::Value DolaAsync(const Napi::CallbackInfo& info) {
  const Napi::Object req = RequireObject(info, 0, "a layer-selection request object");
  std::vector<Napi::Value> keep;
  DolaJob job;
  ParseDola(req, &job, &keep);
  auto* worker = new DolaWorker(info.Env(), std::move(job), keep, req.Get("out"));
  const Napi::Promise promise = worker->Promise();
  worker->Queue();  // owned by libuv from here; deletes itself after OnOK/OnError
  return promise;
}

// Only the batched projection, for tests and benchmarks: { hidden: Float32Array[] (each d floats x n rows... one
// row each), headWeight, weightDtype, headBias?, vocab, hiddenSize, out: Float32Array [n x V], isa?, threads? }.
Napi::Value ProjectRows(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object o = RequireObject(info, 0, "a projection request object");
  const size_t V = static_cast<size_t>(GetInt(o, "vocab", 1, kMax));
  const size_t d = static_cast<size_t>(GetInt(o, "hiddenSize", 1, 1 << 20));
  const ArrayArg h = GetArray(o, "hidden", napi_float32_array, "a Float32Array");
  if (h.length == 0 || h.length % d != 0) ThrowRange(env, "Expected hidden to hold rows x hiddenSize values");
  const size_t n = h.length / d;
  const ac::DType wdt = GetDType(o, "weightDtype");
  ac::dola::Candidates q8;
  std::vector<Span> spans;
  ArrayArg w;
  ac::i8::Head i8w;
  const bool i8 = Has(o, "headI8Codes");
  if (i8) ReadI8(o, V, d, &i8w, &spans);
  if (i8 && !Has(o, "headQ8") && !Has(o, "headWeight")) {
    // the int8 head alone
  } else if (Has(o, "headQ8")) {
    ReadQ8(o, V, d, &q8, &spans);
  } else {
    w = GetLogits(o, "headWeight", wdt);
    if (w.length / V != d || w.length % V != 0) CheckLength(env, "headWeight", w.length, V * d, "vocabSize x hiddenSize");
    spans.push_back({"headWeight", w.data, w.length * ac::dtype_size(wdt)});
  }
  const void* bias = nullptr;
  if (Has(o, "headBias")) {
    const ArrayArg b = GetLogits(o, "headBias", wdt);
    CheckLength(env, "headBias", b.length, V, "vocabSize");
    bias = b.data;
  }
  const ArrayArg out = GetArray(o, "out", napi_float32_array, "a Float32Array");
  CheckLength(env, "out", out.length, n * V, "rows x vocabSize");
  spans.push_back({"hidden", h.data, h.length * 4});
  for (const Span& in : spans)
    if (Overlaps({"out", out.data, out.length * 4}, in)) ThrowRange(env, "out must not share memory with " + in.name);
  std::vector<const float*> hs(n);
  std::vector<float*> outs(n);
  for (size_t i = 0; i < n; ++i) {
    hs[i] = static_cast<const float*>(h.data) + i * d;
    outs[i] = static_cast<float*>(out.data) + i * V;
  }
  const int threads = Has(o, "threads") ? static_cast<int>(GetInt(o, "threads", 0, 1024)) : 0;
  if (i8) {
    const float* x = static_cast<const float*>(h.data);
    for (size_t i = 0; i < h.length; ++i)
      if (!std::isfinite(x[i])) ThrowRange(env, "Expected finite values in hidden but index " + std::to_string(i) + " is not");
    ac::dola::project_rows_i8(GetOps(o), i8w, bias, wdt, hs.data(), n, outs.data(), threads);
    return o.Get("out");
  }
  ac::dola::project_rows(ac::dola::dola_ops_for(GetOps(o)), w.data, wdt, bias, V, d, hs.data(), n, outs.data(),
                         threads, q8.q8, q8.q8_scale);
  return o.Get("out");
}

}  // namespace

void InitDola(Napi::Env env, Napi::Object exports) {
  exports.Set("dolaSelect", Napi::Function::New(env, DolaSync));
  exports.Set("dolaSelectAsync", Napi::Function::New(env, DolaAsync));
  exports.Set("candidateLogits", Napi::Function::New(env, ProjectRows));
}

}  // namespace acb
