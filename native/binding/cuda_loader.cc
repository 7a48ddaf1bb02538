// See cuda_loader.h.
#include "cuda_loader.h"

#include <cstdlib>
#include <mutex>
#include <string>

#if defined(_WIN32)
namespace ac {
const char* cuda_library_name() { return "autocontrast_cuda.dll"; }
const CudaApi* load_cuda(const std::string&, std::string* reason) {
  if (reason) *reason = "CUDA support is only built for Linux";
  return nullptr;
}
}  // namespace ac
#else
#include <dlfcn.h>
#include <sys/stat.h>

namespace ac {
namespace {

std::mutex g_mu;
CudaApi g_api;
bool g_loaded = false;

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

std::string join(const std::string& dir, const char* name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

template <typename F>
bool resolve(void* h, const char* name, F* slot, std::string* reason) {
  dlerror();
  void* sym = dlsym(h, name);
  if (!sym) {
    *reason = std::string("the CUDA library lacks symbol ") + name + " (built from another version?)";
    return false;
  }
  *slot = reinterpret_cast<F>(sym);
  return true;
}

// For entry points a loader may do without: leaves the slot null when the symbol is missing.
template <typename F>
void resolve_optional(void* h, const char* name, F* slot) {
  dlerror();
  void* sym = dlsym(h, name);
  *slot = sym ? reinterpret_cast<F>(sym) : nullptr;
}

}  // namespace

const char* cuda_library_name() {
#if defined(__APPLE__)
  return "libautocontrast_cuda.dylib";
#else
  return "libautocontrast_cuda.so";
#endif
}

const CudaApi* load_cuda(const std::string& addon_dir, std::string* reason) {
  std::string scratch;
  if (!reason) reason = &scratch;
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_loaded) return &g_api;

  std::string path;
  const char* env = std::getenv("AUTOCONTRAST_CUDA_LIB");
  if (env && *env) {
    path = is_dir(env) ? join(env, cuda_library_name()) : std::string(env);
  } else {
    path = join(addon_dir, cuda_library_name());
  }
  if (!is_file(path)) {
    *reason = "library not built (" + path +
              " not found; build with -DAUTOCONTRAST_CUDA=ON or set AUTOCONTRAST_CUDA_LIB)";
    return nullptr;
  }
  // The library links the CUDA runtime statically; it needs only the driver. Check for it first so the
  // message says what is missing.
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!driver) {
    *reason = "no CUDA driver (libcuda.so.1 not found)";
    return nullptr;
  }
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    *reason = "cannot load " + path + ": " + (e ? e : "unknown dlopen error");
    dlclose(driver);
    return nullptr;
  }
  CudaApi api;
  bool ok = resolve(h, "ac_cuda_version", &api.version, reason) &&
            resolve(h, "ac_cuda_abi_version", &api.abi_version, reason) &&
            resolve(h, "ac_cuda_device_count", &api.device_count, reason) &&
            resolve(h, "ac_cuda_device_name", &api.device_name, reason) &&
            resolve(h, "ac_cuda_last_error_message", &api.last_error_message, reason) &&
            resolve(h, "ac_cuda_set_tuning", &api.set_tuning, reason) &&
            resolve(h, "ac_cuda_release", &api.release, reason) &&
            resolve(h, "ac_cuda_contrast", &api.contrast, reason) &&
            resolve(h, "ac_cuda_contrast_sparse", &api.contrast_sparse, reason) &&
            resolve(h, "ac_cuda_select", &api.select, reason) &&
            resolve(h, "ac_cuda_beam_candidates", &api.beam_candidates, reason) &&
            resolve(h, "ac_cuda_check_error", &api.check_error, reason) &&
            resolve(h, "ac_cuda_contrast_host", &api.contrast_host, reason) &&
            resolve(h, "ac_cuda_contrast_sparse_host", &api.contrast_sparse_host, reason) &&
            resolve(h, "ac_cuda_select_host", &api.select_host, reason) &&
            resolve(h, "ac_cuda_beam_candidates_host", &api.beam_candidates_host, reason);
  if (ok) {
    resolve_optional(h, "ac_cuda_set_device", &api.set_device);
    resolve_optional(h, "ac_cuda_stream_create", &api.stream_create);
    resolve_optional(h, "ac_cuda_stream_destroy", &api.stream_destroy);
    resolve_optional(h, "ac_cuda_stream_synchronize", &api.stream_synchronize);
    resolve_optional(h, "ac_cuda_malloc", &api.mem_alloc);
    resolve_optional(h, "ac_cuda_free", &api.mem_free);
    resolve_optional(h, "ac_cuda_memcpy_async", &api.memcpy_async);
    resolve_optional(h, "ac_cuda_gather_rows", &api.gather_rows);
  }
  if (ok && api.abi_version() != AC_CUDA_ABI_VERSION) {
    *reason = path + " has ABI version " + std::to_string(api.abi_version()) + ", the addon expects " +
              std::to_string(AC_CUDA_ABI_VERSION);
    ok = false;
  }
  if (ok) {
    api.devices = api.device_count();
    if (api.devices <= 0) {
      const char* m = api.last_error_message();
      *reason = std::string("no CUDA device") + (m && *m ? std::string(" (") + m + ")" : std::string());
      ok = false;
    }
  }
  if (!ok) {
    dlclose(h);
    dlclose(driver);
    return nullptr;
  }
  // Both handles stay open for the life of the process.
  api.path = path;
  g_api = api;
  g_loaded = true;
  return &g_api;
}

}  // namespace ac
#endif
