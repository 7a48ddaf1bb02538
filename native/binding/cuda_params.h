// Shared by the host-memory and device-pointer CUDA entry points: kernel parameters in the CUDA C ABI's form,
// and the wording of data errors (the same as the CPU path's).
#pragma once
#include <cstdint>
#include <string>

#include "../cuda/ac_cuda.h"
#include "../kernels/cuda_params.h"
#include "contrast.h"

namespace acb {

using ac::ToCudaParams;

inline std::string NonFiniteMessage(const char* what, int64_t row, int64_t index) {
  return std::string("Expected finite values in ") + what + " but row " + std::to_string(row) + ", index " +
         std::to_string(index) + " is NaN or infinite";
}

// The message for an AC_CUDA_ERR_NONFINITE_* status, or empty for any other status.
inline std::string CudaDataError(int status, const ac_cuda_error_info& err) {
  if (status == AC_CUDA_ERR_NONFINITE_EXPERT) return NonFiniteMessage("expert logits", err.row, err.index);
  if (status == AC_CUDA_ERR_NONFINITE_AMATEUR) return NonFiniteMessage("amateur logits", err.row, err.index);
  return {};
}

}  // namespace acb
