// N-API surface of the int8-block head projection (native/kernels/q8_head.h), for tests and tools:
// q8HeadProject({ codes, scales, vocab, hiddenSize, hidden, rows, out, threads?, isa? }) computes
// out[r * vocab + v] = sum_i codes[v * d + i] * scales[(v * d + i) / 32] * hidden[r * d + i].
#pragma once
#include <napi.h>

namespace acb {

void InitQ8Head(Napi::Env env, Napi::Object exports);

}  // namespace acb
