// An opt-in approximate head product for layer selection (`dolaHead: 'int8'`, see dola.h): the head and the hidden
// rows both in int8 per block of 32 values, their products summed in int32 (AVX-512 VNNI vpdpbusd, AVX2 vpmaddubsw,
// or the scalar loop the tests compare them against), each block's integer sum then scaled by the two blocks' scales
// in float. Not the model's own values: the faithful path stays dola.h's project / project_q8.
//
// Why blocks of 32 rather than one scale per row: a head dequantised from GGUF Q8_0 (the default q4 folder's tied
// embedding) already is int8 per block of 32, so its codes are taken as they are and the weight side is exact; and
// the hidden states of early layers carry a few outlier dimensions, which a per-row scale would let flatten every
// other value of the row to a handful of levels. The price is one int-to-float conversion, one multiply and one
// fused add per block of 32 products.
//
// The value computed for head row v and hidden row h, with q / s the head's codes and block scales and x / t the
// hidden row's:
//   acc = 0;  for each block b in order:  acc = fma(float(sum_{i in b} q[v][i] * x[h][i]), s[v][b] * t[h][b], acc)
// (the product s * t rounded to float first). Every instruction set computes exactly this, so their results are
// bit-identical to the scalar path's.
#pragma once
#include <cstddef>
#include <cstdint>

#include "contrast.h"

namespace ac {
namespace i8 {

constexpr size_t kTileRows = 16;  // head rows per packed tile
constexpr size_t kBlock = 32;     // values per scale
constexpr size_t kGroup = 4;      // consecutive values of one row stored together (one vpdpbusd lane)

// The packed head. Tile t holds head rows 16t .. 16t + 15 (rows past V are zero codes with zero scales). Within a
// tile, for every group g of 4 consecutive values (g = 0 .. d/4 - 1), 64 bytes: row r's 4 values at bytes 4r .. 4r+3,
// each stored as q + 128 (q in [-127, 127]: an unsigned byte, the operand form vpdpbusd multiplies). Scales: for
// tile t and block b, 16 floats (one per row) at scales[(t * (d / 32) + b) * 16].
struct Head {
  const uint8_t* codes = nullptr;  // [tiles x d x 16] bytes
  const float* scales = nullptr;   // [tiles x d / 32 x 16]
  size_t rows = 0;                 // V
  size_t d = 0;                    // a multiple of 32
};

// Hidden rows quantised per block of 32: t = max |x| / 127 over the block, q = x / t rounded to nearest (ties to
// even) in [-127, 127] (all zero when the block is); sum = the block's sum of q (vpdpbusd multiplies q + 128 and
// the sum takes the 128 back out).
struct Acts {
  const int8_t* const* q = nullptr;     // per row, d codes
  const float* const* scale = nullptr;  // per row, d / 32 scales
  const int32_t* const* sum = nullptr;  // per row, d / 32 sums
};

// Quantises one hidden row of d values (d a multiple of 32) into q, scale and sum (see Acts).
void quantise_row(const float* x, size_t d, int8_t* q, float* scale, int32_t* sum);

// One instruction set's product.
struct I8Ops {
  const char* name;
  // out[h][v] for every head row v of tiles [t0, t1) below w.rows and every hidden row h < nh (the formula above).
  void (*project)(const Head& w, size_t t0, size_t t1, const Acts& a, size_t nh, float* const* out);
};

const I8Ops& i8_scalar_ops();
const I8Ops* i8_avx2_ops();        // vpmaddubsw; null when not compiled in
const I8Ops* i8_avx512vnni_ops();  // vpdpbusd; null when not compiled in
// The I8Ops matching the contrast Ops in use: AVX-512 VNNI under "avx512" when this CPU has VNNI, else AVX2 under
// "avx2" or "avx512", else scalar.
const I8Ops& i8_ops_for(const Ops& ops);

}  // namespace i8

// Whether this CPU reports AVX512_VNNI (CPUID 7.0 ECX bit 11) besides what the AVX-512 Ops need (dispatch.cc).
bool cpu_has_avx512_vnni();

}  // namespace ac
