// __half instantiation of the contrast kernel (one file per dtype so they compile in parallel).
#include "contrast.cuh"

namespace acc {
cudaError_t launch_contrast_f16(const ContrastArgs& a, int64_t rows, int bpr, cudaStream_t stream) {
  return launch_t<__half>(a, rows, bpr, stream);
}
int contrast_occupancy_f16() { return occupancy_t<__half>(); }
}  // namespace acc
