// An output head held as int8 codes with one float scale per block of 32 along the hidden width (the form of a
// GGUF Q8_0 matrix: W[v][i] = code[v * d + i] * scale[(v * d + i) / 32]), multiplied with float hidden states:
// out[r][v] = sum_i W[v][i] * h[r][i] for R rows at once.
//
// Exactness: each weight is widened to float as code x scale, one float multiply. When the head came from a float32
// matrix that passes the representability check (src/kernel/compact-head.ts: every value an integer multiple in
// [-127, 127] of its block's scale, the product giving the value back bit for bit), the widened weights are that
// matrix's own values, so the logits are the float32 head's dot products; only the summation order is this kernel's.
//
// Order: every out[r][v] is summed in the same order whatever R, the row's position among the R rows, the tile
// over the vocabulary or the thread count (per instruction set), so a row's logits do not depend on its batch.
// The head is read once per call for all R rows (a tile of head rows is widened once and multiplied with every
// hidden row while it is in L1), which is what DoLa's candidate projection needs (R = rows x candidates).
#pragma once
#include <cstddef>
#include <cstdint>

#include "contrast.h"

namespace ac {
namespace q8head {

constexpr size_t kBlock = 32;  // values per scale

// A [vocab x d] head in int8 blocks (d a multiple of kBlock). The arrays belong to the caller.
struct Head {
  const int8_t* codes = nullptr;   // [vocab x d]
  const float* scales = nullptr;   // [vocab x d / kBlock]
  size_t vocab = 0;
  size_t d = 0;
};

// One instruction set's projection of head rows [v0, v1) for R hidden rows: out[r][v] for v in [v0, v1).
struct Q8HeadOps {
  const char* name;
  void (*project)(const Head& w, size_t v0, size_t v1, const float* const* hidden, size_t rows, float* const* out);
};

const Q8HeadOps& q8_head_scalar_ops();
const Q8HeadOps* q8_head_avx2_ops();    // null when not compiled in
const Q8HeadOps* q8_head_avx512_ops();  // null when not compiled in
// The table of the same instruction set as `ops` (the contrast dispatch, which checked the CPU; scalar otherwise).
const Q8HeadOps& q8_head_ops_for(const Ops& ops);

// out[r][v] = sum_i W[v][i] * hidden[r][i] for every v and r: hidden[r] holds d floats, out[r] vocab floats (rows
// may not overlap the head or each other). Tiles of the vocabulary go to parallel_for (threads as there: 0 =
// automatic, 1 = the calling thread only).
void project(const Q8HeadOps& ops, const Head& w, const float* const* hidden, size_t rows, float* const* out,
             int threads = 0);

}  // namespace q8head
}  // namespace ac
