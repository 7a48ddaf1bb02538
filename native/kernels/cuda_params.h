// The contrast settings in the CUDA library's C ABI form: one conversion for every caller (the addon's CUDA
// entry points and the runtime's device step), so a new setting is carried over in one place.
#pragma once
#include <cstdint>

#include "../cuda/ac_cuda.h"
#include "contrast.h"

namespace ac {

inline ac_cuda_params ToCudaParams(const Params& p, uint32_t flags = 0) {
  ac_cuda_params cp{};
  cp.mode = static_cast<int32_t>(p.mode);
  cp.alpha = p.alpha;
  cp.min_candidates = p.min_candidates;
  cp.has_beta = p.has_beta ? 1 : 0;
  cp.beta = p.beta;
  cp.flags = flags;
  return cp;
}

}  // namespace ac
