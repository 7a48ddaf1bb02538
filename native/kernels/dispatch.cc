// Placeholder dispatch: scalar only. Replaced by CPUID-based selection.
#include <string_view>

#include "contrast.h"

namespace ac {
const Ops* avx2_ops() { return nullptr; }
const Ops* avx512_ops() { return nullptr; }
const Ops* neon_ops() { return nullptr; }
const Ops& best_ops() { return scalar_ops(); }
const Ops* ops_by_name(const char* name) {
  return name && std::string_view(name) == "scalar" ? &scalar_ops() : nullptr;
}
}  // namespace ac
