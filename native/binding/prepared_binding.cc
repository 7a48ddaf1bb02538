#include "prepared_binding.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "args.h"
#include "contrast.h"
#include "contrast_job.h"

namespace acb {
namespace {

// Marks the objects made by contrastPrepare, so contrastRun never reinterprets any other object's pointer.
constexpr napi_type_tag kPreparedTag{0x6163642d70726570ull, 0x61726564636f6e74ull};

struct Prepared {
  ac::Params params;
  const ac::Ops* ops = nullptr;
  ac::DType dtype = ac::DType::F32;
  size_t rows = 0, vocab = 0;
  int threads = 0;
  bool sparse = false;
  size_t d = 0;
  ac::SparseAmateur amateur;        // weight / bias pointers into the arrays held by refs
  std::vector<Napi::ObjectReference> refs;
  std::vector<ac::RowStats> stats;  // reused by every run
};

// A typed array argument of the expected element type and length (element count).
ArrayArg Arg(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
             const char* expected, size_t want) {
  const Napi::Env env = info.Env();
  const Napi::Value v = info[i];
  if (!v.IsTypedArray())
    ThrowType(env, std::string("Expected ") + name + " to be " + expected + " but received " +
                       (v.IsUndefined() ? "undefined" : v.IsArray() ? "an Array" : "a non-typed-array value"));
  const Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != type)
    ThrowType(env, std::string("Expected ") + name + " to be " + expected + " but received " +
                       TypeName(ta.TypedArrayType()));
  ArrayArg a;
  a.type = type;
  a.length = ta.ElementLength();
  a.data = static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (a.length != want)
    ThrowRange(env, std::string("Expected ") + name + " to have " + std::to_string(want) + " elements but it has " +
                        std::to_string(a.length));
  return a;
}

ArrayArg LogitsArg(const Napi::CallbackInfo& info, size_t i, const char* name, ac::DType dt, size_t want) {
  if (dt == ac::DType::F32) return Arg(info, i, name, napi_float32_array, "a Float32Array (dtype float32)", want);
  return Arg(info, i, name, napi_uint16_array,
             dt == ac::DType::F16 ? "a Uint16Array of float16 bits (dtype float16)"
                                  : "a Uint16Array of bfloat16 bits (dtype bfloat16)",
             want);
}

bool Overlap(const ArrayArg& a, size_t ea, const ArrayArg& b, size_t eb) {
  const auto a0 = reinterpret_cast<uintptr_t>(a.data), b0 = reinterpret_cast<uintptr_t>(b.data);
  const size_t na = a.length * ea, nb = b.length * eb;
  return na && nb && a0 < b0 + nb && b0 < a0 + na;
}

Prepared* Unwrap(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().CheckTypeTag(&kPreparedTag))
    ThrowType(info.Env(), "Expected a prepared contrast (from createContrast) as argument 1");
  Prepared* p = nullptr;
  if (napi_unwrap(info.Env(), info[0], reinterpret_cast<void**>(&p)) != napi_ok || !p)
    ThrowType(info.Env(), "Expected a prepared contrast (from createContrast) as argument 1");
  return p;
}

Napi::Value Prepare(const Napi::CallbackInfo& info, bool sparse) {
  const Napi::Env env = info.Env();
  const Napi::Object req = RequireObject(info, 0, "a contrast request object");
  auto* p = new Prepared();
  try {
    p->dtype = GetDType(req, "dtype");
    p->vocab = static_cast<size_t>(GetInt(req, "vocab", 1, std::numeric_limits<int32_t>::max()));
    p->rows = static_cast<size_t>(GetInt(req, "rows", 1, std::numeric_limits<int32_t>::max()));
    p->params = GetParams(req, p->vocab);
    p->ops = &GetOps(req);
    p->threads = Has(req, "threads") ? static_cast<int>(GetInt(req, "threads", 0, 1024)) : 0;
    p->sparse = sparse;
    if (sparse) {
      p->d = static_cast<size_t>(GetInt(req, "hiddenSize", 1, 1 << 20));
      const ac::DType wdt = GetDType(req, "weightDtype");
      const ArrayArg w = GetLogits(req, "headWeight", wdt);
      if (w.length / p->vocab != p->d || w.length % p->vocab != 0)
        ThrowRange(env, "Expected headWeight to have vocabSize x hiddenSize = " + std::to_string(p->vocab * p->d) +
                            " elements but it has " + std::to_string(w.length));
      p->amateur.weight = w.data;
      p->amateur.weight_dtype = wdt;
      p->amateur.d = p->d;
      p->refs.push_back(Napi::Persistent(req.Get("headWeight").As<Napi::Object>()));
      if (Has(req, "headBias")) {
        const ArrayArg b = GetLogits(req, "headBias", wdt);
        if (b.length != p->vocab)
          ThrowRange(env, "Expected headBias to have vocabSize = " + std::to_string(p->vocab) +
                              " elements but it has " + std::to_string(b.length));
        p->amateur.bias = b.data;
        p->refs.push_back(Napi::Persistent(req.Get("headBias").As<Napi::Object>()));
      }
    }
    p->stats.resize(p->rows);
  } catch (...) {
    delete p;
    throw;
  }
  Napi::Object obj = Napi::Object::New(env);
  if (napi_wrap(env, obj, p, [](napi_env, void* data, void*) { delete static_cast<Prepared*>(data); }, nullptr,
                nullptr) != napi_ok) {
    delete p;
    throw Napi::Error::New(env, "could not attach the prepared contrast");
  }
  obj.TypeTag(&kPreparedTag);
  return obj;
}

// contrastRun(prepared, expert, amateur | hidden, out, headSize, headMass) -> undefined
Napi::Value Run(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Prepared* p = Unwrap(info);
  const size_t total = p->rows * p->vocab, es = ac::dtype_size(p->dtype);
  const ArrayArg expert = LogitsArg(info, 1, "expert", p->dtype, total);
  ac::Batch b;
  b.dtype = p->dtype;
  b.rows = p->rows;
  b.vocab = p->vocab;
  b.expert = expert.data;
  ArrayArg second;
  size_t second_es = es;
  if (p->sparse) {
    second = Arg(info, 2, "hidden", napi_float32_array, "a Float32Array", p->rows * p->d);
    second_es = 4;
    const float* h = static_cast<const float*>(second.data);
    for (size_t i = 0; i < second.length; ++i)
      if (!std::isfinite(h[i]))
        ThrowRange(env, "Expected finite values in hidden but row " + std::to_string(i / p->d) + ", index " +
                            std::to_string(i % p->d) + " is " + (std::isnan(h[i]) ? "NaN" : "infinite"));
    b.sparse = p->amateur;
    b.sparse.hidden = h;
  } else {
    second = LogitsArg(info, 2, "amateur", p->dtype, total);
    b.amateur = second.data;
  }
  const ArrayArg out = Arg(info, 3, "out", napi_float32_array, "a Float32Array", total);
  const ArrayArg hs = Arg(info, 4, "headSize", napi_int32_array, "an Int32Array", p->rows);
  const ArrayArg hm = Arg(info, 5, "headMass", napi_float32_array, "a Float32Array", p->rows);
  // Outputs are written while inputs are still being read: any overlap would corrupt the result.
  const struct {
    const char* name;
    const ArrayArg* a;
    size_t es;
  } ins[] = {{"expert", &expert, es}, {p->sparse ? "hidden" : "amateur", &second, second_es}},
    outs[] = {{"out", &out, 4}, {"headSize", &hs, 4}, {"headMass", &hm, 4}};
  for (size_t i = 0; i < 3; ++i) {
    for (const auto& in : ins)
      if (Overlap(*outs[i].a, outs[i].es, *in.a, in.es))
        ThrowRange(env, std::string(outs[i].name) + " must not share memory with " + in.name);
    for (size_t j = i + 1; j < 3; ++j)
      if (Overlap(*outs[i].a, 4, *outs[j].a, 4))
        ThrowRange(env, std::string(outs[i].name) + " must not share memory with " + outs[j].name);
  }
  b.out = static_cast<float*>(out.data);
  b.stats = p->stats.data();
  try {
    ac::contrast_batch(*p->ops, b, p->params, p->threads);
  } catch (const ac::KernelError& e) {
    ThrowRange(env, KernelErrorMessage(e));
  }
  auto* hs_out = static_cast<int32_t*>(hs.data);
  auto* hm_out = static_cast<float*>(hm.data);
  for (size_t r = 0; r < p->rows; ++r) {
    hs_out[r] = p->stats[r].head_size;
    hm_out[r] = p->stats[r].head_mass;
  }
  return env.Undefined();
}

}  // namespace

void InitPrepared(Napi::Env env, Napi::Object exports) {
  exports.Set("contrastPrepare", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Prepare(i, false); }));
  exports.Set("contrastPrepareSparse",
              Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Prepare(i, true); }));
  exports.Set("contrastRun", Napi::Function::New(env, Run));
}

}  // namespace acb
