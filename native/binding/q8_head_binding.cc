// The int8-block head projection from JavaScript (see q8_head_binding.h). Every size, type and overlap is checked
// here: nothing JavaScript passes reaches the kernel with a wrong length.
#include "q8_head_binding.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "q8_head.h"

namespace acb {
namespace {

bool Overlap(const void* a, size_t an, const void* b, size_t bn) {
  const auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return an && bn && x < y + bn && y < x + an;
}

Napi::Value Q8HeadProject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Object req = RequireObject(info, 0, "a q8 head request object");
  const size_t V = static_cast<size_t>(GetInt(req, "vocab", 1, int64_t(1) << 31));
  const size_t d = static_cast<size_t>(GetInt(req, "hiddenSize", 1, int64_t(1) << 24));
  const size_t rows = static_cast<size_t>(GetInt(req, "rows", 1, int64_t(1) << 31));
  if (d % ac::q8head::kBlock != 0)
    ThrowRange(env, "Expected hiddenSize to be a multiple of 32 (the head's blocks), got " + std::to_string(d));
  const ArrayArg codes = GetArray(req, "codes", napi_int8_array, "an Int8Array");
  const ArrayArg scales = GetArray(req, "scales", napi_float32_array, "a Float32Array");
  const ArrayArg hidden = GetArray(req, "hidden", napi_float32_array, "a Float32Array");
  const ArrayArg out = GetArray(req, "out", napi_float32_array, "a Float32Array");
  if (codes.length != V * d)
    ThrowRange(env, "Expected codes to hold vocab x hiddenSize = " + std::to_string(V * d) + " values, got " +
                        std::to_string(codes.length));
  if (scales.length != V * d / ac::q8head::kBlock)
    ThrowRange(env, "Expected scales to hold vocab x hiddenSize / 32 = " + std::to_string(V * d / ac::q8head::kBlock) +
                        " values, got " + std::to_string(scales.length));
  if (hidden.length != rows * d)
    ThrowRange(env, "Expected hidden to hold rows x hiddenSize = " + std::to_string(rows * d) + " values, got " +
                        std::to_string(hidden.length));
  if (out.length != rows * V)
    ThrowRange(env, "Expected out to hold rows x vocab = " + std::to_string(rows * V) + " values, got " +
                        std::to_string(out.length));
  const float* sc = static_cast<const float*>(scales.data);
  for (size_t i = 0; i < scales.length; ++i)
    if (!std::isfinite(sc[i])) ThrowRange(env, "Expected scales to be finite, got " + std::to_string(sc[i]) + " at " + std::to_string(i));
  // The output is written while the inputs are still read.
  if (Overlap(out.data, out.length * 4, hidden.data, hidden.length * 4)) ThrowRange(env, "out must not share memory with hidden");
  if (Overlap(out.data, out.length * 4, codes.data, codes.length)) ThrowRange(env, "out must not share memory with codes");
  if (Overlap(out.data, out.length * 4, scales.data, scales.length * 4)) ThrowRange(env, "out must not share memory with scales");
  const int threads = Has(req, "threads") ? static_cast<int>(GetInt(req, "threads", 0, 1024)) : 0;
  const ac::q8head::Q8HeadOps& ops = ac::q8head::q8_head_ops_for(GetOps(req));
  ac::q8head::Head head;
  head.codes = static_cast<const int8_t*>(codes.data);
  head.scales = sc;
  head.vocab = V;
  head.d = d;
  std::vector<const float*> h(rows);
  std::vector<float*> o(rows);
  for (size_t r = 0; r < rows; ++r) {
    h[r] = static_cast<const float*>(hidden.data) + r * d;
    o[r] = static_cast<float*>(out.data) + r * V;
  }
  ac::q8head::project(ops, head, h.data(), rows, o.data(), threads);
  return req.Get("out");
}

}  // namespace

void InitQ8Head(Napi::Env env, Napi::Object exports) {
  exports.Set("q8HeadProject", Napi::Function::New(env, Q8HeadProject));
  // Which table q8HeadProject uses for an `isa` (or the best one): the tests name the path they compare.
  exports.Set("q8HeadIsa", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    const Napi::Object o = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(info.Env());
    return Napi::String::New(info.Env(), ac::q8head::q8_head_ops_for(GetOps(o)).name);
  }));
}

}  // namespace acb
