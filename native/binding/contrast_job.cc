#include "contrast_job.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "args.h"
#include "cuda_loader.h"
#include "cuda_params.h"

namespace acb {
namespace {

constexpr int64_t kMaxVocab = std::numeric_limits<int32_t>::max();

struct Span {
  const char* name;
  const void* begin;
  size_t bytes;
};

bool Overlaps(const Span& a, const Span& b) {
  const auto a0 = reinterpret_cast<uintptr_t>(a.begin), b0 = reinterpret_cast<uintptr_t>(b.begin);
  return a.bytes && b.bytes && a0 < b0 + b.bytes && b0 < a0 + a.bytes;
}

void CheckLength(Napi::Env env, const char* key, size_t got, size_t want, const std::string& shape) {
  if (got != want)
    ThrowRange(env, std::string("Expected ") + key + " to have " + std::to_string(want) + " elements (" + shape +
                        ") but it has " + std::to_string(got));
}

const char* CodeWhat(ac::KernelError::Code c) {
  switch (c) {
    case ac::KernelError::kNonFiniteExpert: return "expert logits";
    case ac::KernelError::kNonFiniteAmateur: return "amateur logits";
    case ac::KernelError::kNonFiniteHidden: return "hidden state";
  }
  return "input";
}

}  // namespace

std::string KernelErrorMessage(const ac::KernelError& e) {
  return NonFiniteMessage(CodeWhat(e.code), static_cast<int64_t>(e.row), static_cast<int64_t>(e.index));
}

ContrastJob ParseContrast(const Napi::Object& req, bool sparse, std::vector<Napi::Value>* keep) {
  const Napi::Env env = req.Env();
  ContrastJob job;
  ac::Batch& b = job.batch;
  b.dtype = GetDType(req, "dtype");
  b.vocab = static_cast<size_t>(GetInt(req, "vocab", 1, kMaxVocab));
  b.rows = static_cast<size_t>(GetInt(req, "rows", 1, kMaxVocab));
  const size_t total = b.rows * b.vocab;
  const std::string shape = std::to_string(b.rows) + " x " + std::to_string(b.vocab);

  const ArrayArg expert = GetLogits(req, "expert", b.dtype);
  CheckLength(env, "expert", expert.length, total, "rows x vocabSize = " + shape);
  b.expert = expert.data;
  keep->push_back(req.Get("expert"));
  std::vector<Span> inputs{{"expert", expert.data, expert.length * ac::dtype_size(b.dtype)}};

  if (!sparse) {
    const ArrayArg amateur = GetLogits(req, "amateur", b.dtype);
    CheckLength(env, "amateur", amateur.length, total, "rows x vocabSize = " + shape);
    b.amateur = amateur.data;
    keep->push_back(req.Get("amateur"));
    inputs.push_back({"amateur", amateur.data, amateur.length * ac::dtype_size(b.dtype)});
  } else {
    const size_t d = static_cast<size_t>(GetInt(req, "hiddenSize", 1, 1 << 20));
    const ac::DType wdt = GetDType(req, "weightDtype");
    const ArrayArg hidden = GetArray(req, "hidden", napi_float32_array, "a Float32Array");
    CheckLength(env, "hidden", hidden.length, b.rows * d, "rows x hiddenSize");
    const ArrayArg weight = GetLogits(req, "headWeight", wdt);
    if (weight.length / b.vocab != d || weight.length % b.vocab != 0)
      CheckLength(env, "headWeight", weight.length, b.vocab * d, "vocabSize x hiddenSize");
    const float* h = static_cast<const float*>(hidden.data);
    for (size_t i = 0; i < hidden.length; ++i)
      if (!std::isfinite(h[i]))
        ThrowRange(env, "Expected finite values in hidden but row " + std::to_string(i / d) + ", index " +
                            std::to_string(i % d) + " is " + (std::isnan(h[i]) ? "NaN" : "infinite"));
    b.sparse.hidden = h;
    b.sparse.d = d;
    b.sparse.weight = weight.data;
    b.sparse.weight_dtype = wdt;
    keep->push_back(req.Get("hidden"));
    keep->push_back(req.Get("headWeight"));
    inputs.push_back({"hidden", hidden.data, hidden.length * 4});
    inputs.push_back({"headWeight", weight.data, weight.length * ac::dtype_size(wdt)});
    if (Has(req, "headBias")) {
      const ArrayArg bias = GetLogits(req, "headBias", wdt);
      CheckLength(env, "headBias", bias.length, b.vocab, "vocabSize");
      b.sparse.bias = bias.data;
      keep->push_back(req.Get("headBias"));
      inputs.push_back({"headBias", bias.data, bias.length * ac::dtype_size(wdt)});
    }
  }

  const ArrayArg out = GetArray(req, "out", napi_float32_array, "a Float32Array");
  CheckLength(env, "out", out.length, total, "rows x vocabSize = " + shape);
  b.out = static_cast<float*>(out.data);
  keep->push_back(req.Get("out"));
  std::vector<Span> outputs{{"out", out.data, out.length * 4}};

  if (Has(req, "headSize")) {
    const ArrayArg hs = GetArray(req, "headSize", napi_int32_array, "an Int32Array");
    CheckLength(env, "headSize", hs.length, b.rows, "one per row");
    job.head_size_out = static_cast<int32_t*>(hs.data);
    keep->push_back(req.Get("headSize"));
    outputs.push_back({"headSize", hs.data, hs.length * 4});
  }
  if (Has(req, "headMass")) {
    const ArrayArg hm = GetArray(req, "headMass", napi_float32_array, "a Float32Array");
    CheckLength(env, "headMass", hm.length, b.rows, "one per row");
    job.head_mass_out = static_cast<float*>(hm.data);
    keep->push_back(req.Get("headMass"));
    outputs.push_back({"headMass", hm.data, hm.length * 4});
  }
  // Outputs are written while inputs are still being read: any overlap would corrupt the result.
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (const Span& in : inputs)
      if (Overlaps(outputs[i], in))
        ThrowRange(env, std::string(outputs[i].name) + " must not share memory with " + in.name);
    for (size_t j = i + 1; j < outputs.size(); ++j)
      if (Overlaps(outputs[i], outputs[j]))
        ThrowRange(env, std::string(outputs[i].name) + " must not share memory with " + outputs[j].name);
  }

  job.params = GetParams(req, b.vocab);
  job.ops = &GetOps(req);
  job.threads = Has(req, "threads") ? static_cast<int>(GetInt(req, "threads", 0, 1024)) : 0;
  if (Has(req, "device")) {
    const std::string device = GetString(req, "device");
    if (device == "cuda") {
      job.cuda = true;
      job.cuda_device = Has(req, "cudaDevice") ? static_cast<int>(GetInt(req, "cudaDevice", 0, 1023)) : 0;
      job.cuda_dir = Has(req, "cudaDir") ? GetString(req, "cudaDir") : std::string();
    } else if (device != "cpu") {
      ThrowRange(env, "Expected device 'cpu' or 'cuda' but received '" + device + "'");
    }
  }
  return job;
}

std::string ContrastJob::RunCuda(bool* range_error) {
  std::string reason;
  const ac::CudaApi* api = ac::load_cuda(cuda_dir, &reason);
  if (!api) return "device 'cuda' is not available: " + reason;
  const ac_cuda_params cp = ToCudaParams(params);
  std::vector<int32_t> hs(batch.rows);
  std::vector<float> hm(batch.rows);
  ac_cuda_error_info err{};
  int status;
  const auto rows = static_cast<int64_t>(batch.rows), vocab = static_cast<int64_t>(batch.vocab);
  if (batch.sparse.weight) {
    ac_cuda_sparse_amateur sp{};
    sp.hidden = batch.sparse.hidden;
    sp.d = static_cast<int64_t>(batch.sparse.d);
    sp.weight_dtype = static_cast<int32_t>(batch.sparse.weight_dtype);
    sp.weight = batch.sparse.weight;
    sp.bias = batch.sparse.bias;
    status = api->contrast_sparse_host(cuda_device, static_cast<int32_t>(batch.dtype), batch.expert, &sp, rows, vocab,
                                       &cp, batch.out, hs.data(), hm.data(), nullptr, &err);
  } else {
    status = api->contrast_host(cuda_device, static_cast<int32_t>(batch.dtype), batch.expert, batch.amateur, rows,
                                vocab, &cp, batch.out, hs.data(), hm.data(), nullptr, &err);
  }
  const std::string data_error = CudaDataError(status, err);
  if (!data_error.empty()) {
    if (range_error) *range_error = true;
    return data_error;
  }
  if (status != AC_CUDA_OK) return std::string("CUDA contrast failed: ") + api->last_error_message();
  for (size_t r = 0; r < batch.rows; ++r) {
    if (head_size_out) head_size_out[r] = hs[r];
    if (head_mass_out) head_mass_out[r] = hm[r];
  }
  return {};
}

std::string ContrastJob::Run(bool* range_error) {
  if (range_error) *range_error = true;
  if (cuda) {
    if (range_error) *range_error = false;
    return RunCuda(range_error);
  }
  stats.resize(batch.rows);
  batch.stats = stats.data();
  try {
    ac::contrast_batch(*ops, batch, params, threads);
  } catch (const ac::KernelError& e) {
    return KernelErrorMessage(e);
  }
  for (size_t r = 0; r < batch.rows; ++r) {
    if (head_size_out) head_size_out[r] = stats[r].head_size;
    if (head_mass_out) head_mass_out[r] = stats[r].head_mass;
  }
  return {};
}

}  // namespace acb
