// __nv_bfloat16 instantiation of the contrast kernel (one file per dtype so they compile in parallel).
#include "contrast.cuh"

namespace acc {
cudaError_t launch_contrast_bf16(const ContrastArgs& a, int64_t rows, int bpr, cudaStream_t stream) {
  return launch_t<__nv_bfloat16>(a, rows, bpr, stream);
}
int contrast_occupancy_bf16() { return occupancy_t<__nv_bfloat16>(); }
}  // namespace acc
