// N-API surface of the CUDA library (loaded on demand; see cuda_loader.h).
#pragma once
#include <napi.h>

namespace acb {
// Adds contrastDevice() and cudaInfo() to the addon's exports.
void InitCuda(Napi::Env env, Napi::Object exports);
}  // namespace acb
