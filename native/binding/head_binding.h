// N-API surface of the dense head projection used for early exit from hidden-only exits:
// headLogits({ hidden, rows, hiddenSize, headWeight, weightDtype, headBias?, vocab, out, threads? })
// computes out[r, v] = dot(W[v], h[r]) + b[v] for every row and vocabulary entry.
#pragma once
#include <napi.h>

namespace acb {

void InitHead(Napi::Env env, Napi::Object exports);

}  // namespace acb
