// device: 'cuda' entry points beyond the host-memory option of contrast(): the device-pointer API for
// embedders whose logits already live on the GPU (pointers and a CUDA stream as BigInts), and cudaInfo().
#include "cuda_binding.h"

#include <string>

#include "args.h"
#include "cuda_loader.h"
#include "cuda_params.h"

namespace acb {
namespace {

void* GetPointer(const Napi::Object& o, const char* key, bool optional) {
  if (!Has(o, key)) {
    if (optional) return nullptr;
    ThrowType(o.Env(), std::string("Expected ") + key + " to be a device pointer (BigInt)");
  }
  const Napi::Value v = o.Get(key);
  if (!v.IsBigInt()) ThrowType(o.Env(), std::string("Expected ") + key + " to be a device pointer (BigInt)");
  bool lossless = false;
  const uint64_t p = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless || (p == 0 && !optional)) ThrowRange(o.Env(), std::string("Expected ") + key + " to be a non-null 64-bit pointer");
  return reinterpret_cast<void*>(static_cast<uintptr_t>(p));
}

const ac::CudaApi& RequireCuda(Napi::Env env, const std::string& dir) {
  std::string reason;
  const ac::CudaApi* api = ac::load_cuda(dir, &reason);
  if (!api) throw Napi::Error::New(env, "device 'cuda' is not available: " + reason);
  return *api;
}

// contrastDevice({expert, amateur, out?, headSize?, headMass?, argmax?, stream?, dtype, rows, vocab, mode, alpha,
// minCandidates, beta?, cudaDir?}): runs on the caller's stream, writes device memory, returns undefined.
Napi::Value ContrastDevice(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object req = RequireObject(info, 0, "a device contrast request object");
  const int32_t dtype = static_cast<int32_t>(GetDType(req, "dtype"));
  const int64_t rows = GetInt(req, "rows", 1, 1 << 30);
  const int64_t vocab = GetInt(req, "vocab", 1, 0x7fffffff);
  const ac::Params p = GetParams(req, static_cast<size_t>(vocab));
  const ac_cuda_params cp = ToCudaParams(p);
  const void* expert = GetPointer(req, "expert", false);
  const void* amateur = GetPointer(req, "amateur", false);
  auto* out = static_cast<float*>(GetPointer(req, "out", true));
  auto* head_size = static_cast<int32_t*>(GetPointer(req, "headSize", true));
  auto* head_mass = static_cast<float*>(GetPointer(req, "headMass", true));
  auto* argmax = static_cast<int32_t*>(GetPointer(req, "argmax", true));
  if (!out && !argmax && !head_size) ThrowType(env, "Expected at least one of out, argmax or headSize (device pointers)");
  void* stream = GetPointer(req, "stream", true);
  const ac::CudaApi& api = RequireCuda(env, Has(req, "cudaDir") ? GetString(req, "cudaDir") : std::string());
  ac_cuda_error_info err{};
  const int status = api.contrast(stream, dtype, expert, amateur, rows, vocab, &cp, out, head_size, head_mass, argmax, &err);
  const std::string data_error = CudaDataError(status, err);
  if (!data_error.empty()) ThrowRange(env, data_error);
  if (status == AC_CUDA_ERR_INVALID_ARGUMENT) ThrowRange(env, std::string("CUDA contrast: ") + api.last_error_message());
  if (status != AC_CUDA_OK) throw Napi::Error::New(env, std::string("CUDA contrast failed: ") + api.last_error_message());
  return env.Undefined();
}

// {available, reason?, devices, version, name, library}: whether device 'cuda' can run here, and why not.
Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dir = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  std::string reason;
  const ac::CudaApi* api = ac::load_cuda(dir, &reason);
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", Napi::Boolean::New(env, api != nullptr));
  if (!api) {
    o.Set("reason", Napi::String::New(env, reason));
    return o;
  }
  o.Set("devices", Napi::Number::New(env, api->devices));
  o.Set("version", Napi::String::New(env, api->version()));
  char name[256] = {0};
  if (api->device_name(0, name, sizeof name) == AC_CUDA_OK) o.Set("name", Napi::String::New(env, name));
  o.Set("library", Napi::String::New(env, api->path));
  return o;
}

}  // namespace

void InitCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("contrastDevice", Napi::Function::New(env, ContrastDevice));
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo));
}

}  // namespace acb
