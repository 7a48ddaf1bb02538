// N-API surface of layer selection by divergence (native/kernels/dola.h):
// dolaSelect / dolaSelectAsync({ finalLogits, rows, vocab, hidden: Float32Array[] + hiddenSize + headWeight +
//   weightDtype + headBias? | candidateLogits: Float32Array[], divergence, output, alpha, minCandidates, mode, beta?,
//   out, chosen, divergences?, headSize?, headMass?, isa?, threads? }) and candidateLogits (the batched projection).
#pragma once
#include <napi.h>

namespace acb {

void InitDola(Napi::Env env, Napi::Object exports);

}  // namespace acb
