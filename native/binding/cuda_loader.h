// Loads libautocontrast_cuda.so at run time (dlopen) and resolves its C ABI (native/cuda/ac_cuda.h) into a
// table of function pointers. The addon never links CUDA: it calls load_cuda() only when a caller asks for
// `device: 'cuda'`, so the addon loads and runs on machines without a GPU, a driver or the library.
// No N-API and no CUDA headers here (ac_cuda.h includes none).
#pragma once
#include <string>

#include "../cuda/ac_cuda.h"

namespace ac {

struct CudaApi {
  decltype(&ac_cuda_version) version = nullptr;
  decltype(&ac_cuda_abi_version) abi_version = nullptr;
  decltype(&ac_cuda_device_count) device_count = nullptr;
  decltype(&ac_cuda_device_name) device_name = nullptr;
  decltype(&ac_cuda_last_error_message) last_error_message = nullptr;
  decltype(&ac_cuda_set_tuning) set_tuning = nullptr;
  decltype(&ac_cuda_release) release = nullptr;
  decltype(&ac_cuda_contrast) contrast = nullptr;
  decltype(&ac_cuda_contrast_sparse) contrast_sparse = nullptr;
  decltype(&ac_cuda_select) select = nullptr;
  decltype(&ac_cuda_beam_candidates) beam_candidates = nullptr;
  decltype(&ac_cuda_check_error) check_error = nullptr;
  decltype(&ac_cuda_contrast_host) contrast_host = nullptr;
  decltype(&ac_cuda_contrast_sparse_host) contrast_sparse_host = nullptr;
  decltype(&ac_cuda_select_host) select_host = nullptr;
  decltype(&ac_cuda_beam_candidates_host) beam_candidates_host = nullptr;
  // Device memory and streams for the runtime's CUDA decode loop. Resolved when present (nullptr in a library
  // built before they were added; has_runtime_entry_points() says whether all are there).
  decltype(&ac_cuda_set_device) set_device = nullptr;
  decltype(&ac_cuda_stream_create) stream_create = nullptr;
  decltype(&ac_cuda_stream_destroy) stream_destroy = nullptr;
  decltype(&ac_cuda_stream_synchronize) stream_synchronize = nullptr;
  decltype(&ac_cuda_malloc) mem_alloc = nullptr;
  decltype(&ac_cuda_free) mem_free = nullptr;
  decltype(&ac_cuda_memcpy_async) memcpy_async = nullptr;
  decltype(&ac_cuda_gather_rows) gather_rows = nullptr;
  bool has_runtime_entry_points() const {
    return set_device && stream_create && stream_destroy && stream_synchronize && mem_alloc && mem_free && memcpy_async &&
           gather_rows;
  }

  std::string path;   // the library that was loaded
  int devices = 0;    // ac_cuda_device_count() at load time (>= 1)
};

// File name of the library (libautocontrast_cuda.so on Linux).
const char* cuda_library_name();

// Returns the loaded API, or nullptr with *reason set to one of:
//   "library not built (<path> not found; build with -DAUTOCONTRAST_CUDA=ON or set AUTOCONTRAST_CUDA_LIB)",
//   "no CUDA driver (libcuda.so.1 not found)", "no CUDA device (...)", or a dlopen/dlsym/ABI mismatch message.
// The library is looked up as $AUTOCONTRAST_CUDA_LIB (a file, or a directory holding the library) when that
// variable is set, else in `addon_dir` (the directory of the .node file). A successful load is cached for the
// process (later calls return the same table whatever addon_dir says); a failure is retried on the next call.
// Thread-safe.
const CudaApi* load_cuda(const std::string& addon_dir, std::string* reason);

}  // namespace ac
