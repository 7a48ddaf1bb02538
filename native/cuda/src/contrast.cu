// dtype dispatch for the contrast kernel instantiations.
#include "kernels.h"

namespace acc {
cudaError_t launch_contrast_f32(const ContrastArgs& a, int64_t rows, int bpr, cudaStream_t stream);
cudaError_t launch_contrast_f16(const ContrastArgs& a, int64_t rows, int bpr, cudaStream_t stream);
cudaError_t launch_contrast_bf16(const ContrastArgs& a, int64_t rows, int bpr, cudaStream_t stream);
int contrast_occupancy_f32();
int contrast_occupancy_f16();
int contrast_occupancy_bf16();

cudaError_t launch_contrast(int dtype, const ContrastArgs& a, int64_t rows, int bpr, cudaStream_t stream) {
  switch (dtype) {
    case 0: return launch_contrast_f32(a, rows, bpr, stream);
    case 1: return launch_contrast_f16(a, rows, bpr, stream);
    default: return launch_contrast_bf16(a, rows, bpr, stream);
  }
}

int contrast_occupancy(int dtype) {
  switch (dtype) {
    case 0: return contrast_occupancy_f32();
    case 1: return contrast_occupancy_f16();
    default: return contrast_occupancy_bf16();
  }
}
}  // namespace acc
