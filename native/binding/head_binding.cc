// Dense head projection (see head_binding.h). The vocabulary is split into blocks spread over the kernel's
// thread pool (ac::parallel_for); each block reads its rows of W once and multiplies them with every hidden row,
// with the best SIMD dot product of this CPU (Ops::dot, which also widens float16 / bfloat16 weights).
#include "head_binding.h"

#include <cstdint>
#include <string>

#include "args.h"
#include "contrast.h"
#include "half.h"
#include "parallel.h"

namespace acb {
namespace {

float BiasAt(const void* b, ac::DType dt, size_t v) {
  switch (dt) {
    case ac::DType::F32: return static_cast<const float*>(b)[v];
    case ac::DType::F16: return ac::f16_to_float(static_cast<const uint16_t*>(b)[v]);
    default: return ac::bf16_to_float(static_cast<const uint16_t*>(b)[v]);
  }
}

Napi::Value HeadLogits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Object req = RequireObject(info, 0, "a head request object");
  const ArrayArg h = GetArray(req, "hidden", napi_float32_array, "a Float32Array");
  const size_t rows = static_cast<size_t>(GetInt(req, "rows", 1, int64_t(1) << 31));
  const size_t d = static_cast<size_t>(GetInt(req, "hiddenSize", 1, int64_t(1) << 24));
  const size_t V = static_cast<size_t>(GetInt(req, "vocab", 1, int64_t(1) << 31));
  const ac::DType dt = GetDType(req, "weightDtype");
  const ArrayArg w = GetLogits(req, "headWeight", dt);
  const ArrayArg out = GetArray(req, "out", napi_float32_array, "a Float32Array");
  if (h.length != rows * d)
    ThrowRange(env, "Expected hidden to hold rows x hiddenSize = " + std::to_string(rows * d) + " values, got " +
                        std::to_string(h.length));
  if (w.length != V * d)
    ThrowRange(env, "Expected headWeight to hold vocab x hiddenSize = " + std::to_string(V * d) + " values, got " +
                        std::to_string(w.length));
  if (out.length != rows * V)
    ThrowRange(env, "Expected out to hold rows x vocab = " + std::to_string(rows * V) + " values, got " +
                        std::to_string(out.length));
  const void* bias = nullptr;
  if (Has(req, "headBias")) {
    const ArrayArg b = GetLogits(req, "headBias", dt);
    if (b.length != V) ThrowRange(env, "Expected headBias to hold vocab = " + std::to_string(V) + " values, got " +
                                           std::to_string(b.length));
    bias = b.data;
  }
  const int threads = Has(req, "threads") ? static_cast<int>(GetInt(req, "threads", 0, 1024)) : 0;
  const ac::Ops& ops = GetOps(req);
  const char* W = static_cast<const char*>(w.data);
  const float* H = static_cast<const float*>(h.data);
  float* O = static_cast<float*>(out.data);
  const size_t row_bytes = d * ac::dtype_size(dt);
  // Small products are not worth a thread hop: one thread below ~64K multiply-adds.
  const int use = rows * V * d < (size_t(1) << 16) ? 1 : threads;
  ac::parallel_for(V, use, [&](size_t begin, size_t end) {
    for (size_t v = begin; v < end; ++v) {
      const void* wv = W + v * row_bytes;
      const float b = bias ? BiasAt(bias, dt, v) : 0.f;
      for (size_t r = 0; r < rows; ++r) O[r * V + v] = ops.dot(wv, dt, H + r * d, d) + b;
    }
  });
  return req.Get("out");
}

}  // namespace

void InitHead(Napi::Env env, Napi::Object exports) { exports.Set("headLogits", Napi::Function::New(env, HeadLogits)); }

}  // namespace acb
