// Host-side interface of the kernels (launchers), used by api.cu. No device code here.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

namespace acc {

constexpr int kThreads = 256;  // every kernel uses 256-thread blocks

// Shared memory head list capacity per row (one-block-per-row kernels); larger heads are handled by
// re-scanning the row (membership is x >= threshold) with the scores kept in the output/scratch row.
constexpr int kHeadCap = 2048;

struct Partial {  // per (row, block) values exchanged by blocks that split a row
  float m, s;
  int bad_e, bad_a;
  float nh_v;
  int nh_idx;
  int pad[2];
};

struct ContrastArgs {
  const void* expert = nullptr;
  const void* amateur = nullptr;  // dense, or null when sparse
  const float* hidden = nullptr;  // sparse: [rows x d]
  const void* weight = nullptr;   // sparse: [V x d]
  const void* bias = nullptr;
  int wdt = 0;
  int64_t d = 0;
  int64_t V = 0;
  int cd = 0;
  float log_alpha = 0.f;  // ln(alpha) computed on the host exactly as the CPU path does; -inf for alpha = 0
  int min_cand = 1;
  int has_beta = 0;
  float beta = 0.f;
  int scan_amateur = 1;
  float* out = nullptr;  // user output or workspace scratch [rows x V]
  int write_all = 1;     // 0: only head entries are written (scratch)
  int32_t* head_size = nullptr;
  float* head_mass = nullptr;
  int32_t* argmax = nullptr;
  // workspace
  Partial* partials = nullptr;  // [rows * bpr]
  unsigned* bar = nullptr;      // [rows], zero between launches
  unsigned* done = nullptr;     // [rows], zero between launches
  int* hcount = nullptr;        // [rows], zero between launches
  int* hlist = nullptr;         // [rows * V] (split rows only)
  unsigned long long* err_key = nullptr;
};

// Error record key: lower is earlier. kind 0 expert, 1 amateur, 2 select/beam input.
inline unsigned long long error_key(int64_t row, int kind, int64_t index) {
  return (static_cast<unsigned long long>(row) << 34) | (static_cast<unsigned long long>(kind) << 32) |
         static_cast<unsigned long long>(index);
}

// dtype 0/1/2. bpr == 1: ordinary launch, one block per row; bpr > 1: cooperative launch of rows * bpr blocks.
cudaError_t launch_contrast(int dtype, const ContrastArgs& a, int64_t rows, int bpr, cudaStream_t stream);
// Maximum co-resident blocks per SM of the contrast kernel for dtype.
int contrast_occupancy(int dtype);

struct SelectArgs {
  const float* lp = nullptr;
  int64_t V = 0;
  int method = 0;
  int top_k = 0;
  float top_p = 1.f;
  float inv_t = 1.f;        // nucleus weights (fixed point)
  double temperature = 1.0;  // the draw divides by it, as the CPU chain
  const double* uniforms = nullptr;
  int32_t* tokens = nullptr;
  unsigned long long* err_key = nullptr;
};
cudaError_t launch_select(const SelectArgs& a, int64_t rows, cudaStream_t stream);

struct BeamArgs {
  const float* lp = nullptr;
  int64_t V = 0;
  int k = 0;
  float* vals = nullptr;
  int32_t* idx = nullptr;
  unsigned long long* err_key = nullptr;
};
cudaError_t launch_beam(const BeamArgs& a, int64_t rows, cudaStream_t stream);

}  // namespace acc
