// The addon's entry points. Each contrast call comes in a synchronous form (small batches: one token step costs
// tens of microseconds, less than a thread hop) and an asynchronous form that runs on libuv's pool and returns
// a Promise (large batches; keeps the event loop free).
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "cuda_binding.h"
#include "dola_binding.h"
#include "head_binding.h"
#include "q8_head_binding.h"
#include "contrast.h"
#include "contrast_job.h"
#include "parallel.h"
#include "prepared_binding.h"
#include "runtime_binding.h"

namespace acb {
namespace {

Napi::Value ContrastSync(const Napi::CallbackInfo& info, bool sparse) {
  const Napi::Object req = RequireObject(info, 0, "a contrast request object");
  std::vector<Napi::Value> keep;
  ContrastJob job = ParseContrast(req, sparse, &keep);
  bool range = true;
  const std::string err = job.Run(&range);
  if (!err.empty()) {
    if (range) ThrowRange(info.Env(), err);
    throw Napi::Error::New(info.Env(), err);
  }
  return req.Get("out");
}

class ContrastWorker : public Napi::AsyncWorker {
 public:
  ContrastWorker(Napi::Env env, ContrastJob job, const std::vector<Napi::Value>& keep, Napi::Value out)
      : Napi::AsyncWorker(env, "autocontrast:contrast"), job_(std::move(job)), deferred_(env) {
    // Hold every array the job points into so the GC cannot free them while the worker runs.
    for (const Napi::Value& v : keep) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    out_ = Napi::Persistent(out.As<Napi::Object>());
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { error_ = job_.Run(&range_); }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (error_.empty()) {
      deferred_.Resolve(out_.Value());
    } else {
      deferred_.Reject(range_ ? WithCode(Napi::RangeError::New(Env(), error_), kCodeOutOfRange).Value()
                              : Napi::Error::New(Env(), error_).Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  ContrastJob job_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
  Napi::ObjectReference out_;
  std::string error_;
  bool range_ = true;
};

Napi::Value ContrastAsync(const Napi::CallbackInfo& info, bool sparse) {
  const Napi::Object req = RequireObject(info, 0, "a contrast request object");
  std::vector<Napi::Value> keep;
  ContrastJob job = ParseContrast(req, sparse, &keep);
  auto* worker = new ContrastWorker(info.Env(), std::move(job), keep, req.Get("out"));
  const Napi::Promise promise = worker->Promise();
  worker->Queue();  // owned by libuv from here; deletes itself after OnOK/OnError
  return promise;
}

// Benchmark floor: one read pass over a row plus V exponentials (the max/normaliser pass alone).
Napi::Value FloorPass(const Napi::CallbackInfo& info) {
  const Napi::Object req = RequireObject(info, 0, "a floor request object");
  const ac::DType dt = GetDType(req, "dtype");
  const ArrayArg z = GetLogits(req, "expert", dt);
  const size_t vocab = static_cast<size_t>(GetInt(req, "vocab", 1, static_cast<int64_t>(z.length ? z.length : 1)));
  if (z.length == 0 || z.length % vocab != 0) ThrowRange(info.Env(), "Expected expert to hold rows x vocab values");
  const ac::Ops& ops = GetOps(req);
  double acc = 0;
  for (size_t r = 0; r < z.length / vocab; ++r) {
    float m = 0.f, s = 0.f;
    if (!ops.max_sumexp(static_cast<const char*>(z.data) + r * vocab * ac::dtype_size(dt), dt, vocab, &m, &s))
      ThrowRange(info.Env(), "Expected finite values in expert");
    acc += m + s;
  }
  return Napi::Number::New(info.Env(), acc);
}

Napi::Value Isas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env);
  uint32_t n = 0;
  for (const char* name : {"avx512", "avx2", "neon", "scalar"})
    if (ac::ops_by_name(name)) list.Set(n++, Napi::String::New(env, name));
  return list;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("contrast", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return ContrastSync(i, false); }));
  exports.Set("contrastSparse",
              Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return ContrastSync(i, true); }));
  exports.Set("contrastAsync",
              Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return ContrastAsync(i, false); }));
  exports.Set("contrastSparseAsync",
              Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return ContrastAsync(i, true); }));
  exports.Set("isa", Napi::Function::New(env, [](const Napi::CallbackInfo& i) -> Napi::Value {
                return Napi::String::New(i.Env(), ac::best_ops().name);
              }));
  exports.Set("isas", Napi::Function::New(env, Isas));
  exports.Set("floorPass", Napi::Function::New(env, FloorPass));
  InitCuda(env, exports);
  exports.Set("threads", Napi::Function::New(env, [](const Napi::CallbackInfo& i) -> Napi::Value {
                return Napi::Number::New(i.Env(), ac::default_threads());
              }));
  InitRuntime(env, exports);
  InitHead(env, exports);
  InitDola(env, exports);
  InitPrepared(env, exports);
  InitQ8Head(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace
}  // namespace acb

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return acb::Init(env, exports); }

NODE_API_MODULE(autocontrast, InitAddon)
