// N-API surface of the pre-validated call form (src/kernel/prepared.ts). contrastPrepare(request) reads and checks
// the options once (same request shape and checks as contrast(), minus the arrays that change per call) and returns
// a tagged object holding them (contrastPrepareSparse also holds the exit head's weight and bias);
// contrastRun(prepared, expert, amateur or hidden, out, headSize, headMass) then checks only the arrays (type,
// length, overlap; values through the kernel) and runs on the calling thread (plus the row pool for batches).
#pragma once
#include <napi.h>

namespace acb {

void InitPrepared(Napi::Env env, Napi::Object exports);

}  // namespace acb
