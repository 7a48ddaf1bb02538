// Reads element i of a row in any supported dtype as float (scalar path and tails).
#pragma once
#include <cstddef>
#include <cstdint>

#include "contrast.h"
#include "half.h"

namespace ac {

inline float load_one(const void* p, DType dt, size_t i) {
  switch (dt) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return f16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
  }
  return 0.f;
}

inline const void* offset_row(const void* p, DType dt, size_t elements) {
  return static_cast<const char*>(p) + elements * dtype_size(dt);
}

}  // namespace ac
