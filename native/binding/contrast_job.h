// A validated contrast request: everything a kernel call needs, read from one JavaScript request object.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "contrast.h"

namespace acb {

struct ContrastJob {
  ac::Batch batch;
  ac::Params params;
  const ac::Ops* ops = nullptr;
  int threads = 0;
  std::vector<ac::RowStats> stats;  // filled by Run
  int32_t* head_size_out = nullptr;  // optional JS outputs
  float* head_mass_out = nullptr;
  // device: 'cuda' runs the CUDA library's host-memory entry points on GPU `cuda_device`; the library is
  // looked up in `cuda_dir` (the addon's folder) unless AUTOCONTRAST_CUDA_LIB says otherwise.
  bool cuda = false;
  int cuda_device = 0;
  std::string cuda_dir;

  // Runs the kernel; returns an empty string on success or the error message. `range_error` tells whether the
  // message is a RangeError (bad data) rather than an Error (a missing GPU, a CUDA failure).
  std::string Run(bool* range_error = nullptr);

 private:
  std::string RunCuda(bool* range_error);

 public:
};

// Validates request (see src/kernel/native.ts for its shape). `sparse` selects the hidden-state amateur.
// `keep` receives every JS value whose memory the job points into (async callers hold references to them).
ContrastJob ParseContrast(const Napi::Object& request, bool sparse, std::vector<Napi::Value>* keep);

// The RangeError message for a kernel's data error (non-finite values), as every entry point words it.
std::string KernelErrorMessage(const ac::KernelError& e);

}  // namespace acb
