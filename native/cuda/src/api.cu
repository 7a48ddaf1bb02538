// The C ABI of libautocontrast_cuda.so (declared and documented in ../ac_cuda.h): argument validation,
// per-(device, stream) workspaces, launch configuration, synchronous error reporting, host staging.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../ac_cuda.h"
#include "kernels.h"

#ifndef AC_CUDA_VERSION_STRING
#define AC_CUDA_VERSION_STRING "0.1.0"
#endif

namespace {

thread_local std::string g_msg;
std::atomic<int> g_tune_bpr{0};

int fail(int code, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g_msg = buf;
  return code;
}

int cuda_fail(cudaError_t e, const char* what) {
  cudaGetLastError();  // clear a non-sticky error
  if (e == cudaErrorMemoryAllocation) return fail(AC_CUDA_ERR_OUT_OF_MEMORY, "%s: %s", what, cudaGetErrorString(e));
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorInvalidDevice)
    return fail(AC_CUDA_ERR_NO_DEVICE, "%s: %s", what, cudaGetErrorString(e));
  return fail(AC_CUDA_ERR_CUDA, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

#define AC_TRY(call, what)                      \
  do {                                          \
    cudaError_t e_ = (call);                    \
    if (e_ != cudaSuccess) return cuda_fail(e_, what); \
  } while (0)

// ---- per-device launch facts ----
struct DevInfo {
  bool init = false;
  int sms = 0;
  int coop = 0;
  int occ[3] = {1, 1, 1};
};
std::mutex g_dev_mu;
std::vector<DevInfo> g_dev;

int dev_info(int device, DevInfo* out) {
  std::lock_guard<std::mutex> lk(g_dev_mu);
  if (static_cast<int>(g_dev.size()) <= device) g_dev.resize(device + 1);
  DevInfo& d = g_dev[device];
  if (!d.init) {
    AC_TRY(cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    AC_TRY(cudaDeviceGetAttribute(&d.coop, cudaDevAttrCooperativeLaunch, device), "cudaDeviceGetAttribute");
    for (int t = 0; t < 3; ++t) d.occ[t] = acc::contrast_occupancy(t);
    d.init = true;
  }
  *out = d;
  return AC_CUDA_OK;
}

// ---- per-(device, stream) workspace ----
struct Workspace {
  acc::Partial* partials = nullptr;
  size_t n_partials = 0;
  unsigned* counters = nullptr;  // bar | done | hcount, each [n_rows]
  size_t n_rows = 0;
  int* hlist = nullptr;
  size_t n_hlist = 0;
  float* scratch = nullptr;
  size_t n_scratch = 0;
  unsigned long long* err_key = nullptr;
  unsigned long long* host_key = nullptr;  // pinned
};
std::mutex g_ws_mu;
std::map<std::pair<int, void*>, std::unique_ptr<Workspace>> g_ws;

template <typename P>
int grow(P** ptr, size_t* have, size_t want, cudaStream_t stream, bool zero) {
  if (*have >= want) return AC_CUDA_OK;
  size_t n = want + want / 4;
  if (*ptr) {
    AC_TRY(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    cudaFree(*ptr);
    *ptr = nullptr;
    *have = 0;
  }
  AC_TRY(cudaMalloc(reinterpret_cast<void**>(ptr), n * sizeof(P)), "cudaMalloc (workspace)");
  if (zero) AC_TRY(cudaMemsetAsync(*ptr, 0, n * sizeof(P), stream), "cudaMemsetAsync");
  *have = n;
  return AC_CUDA_OK;
}

int get_ws(int device, cudaStream_t stream, Workspace** out) {
  std::lock_guard<std::mutex> lk(g_ws_mu);
  auto& slot = g_ws[{device, static_cast<void*>(stream)}];
  if (!slot) {
    auto w = std::make_unique<Workspace>();
    AC_TRY(cudaMalloc(reinterpret_cast<void**>(&w->err_key), sizeof(unsigned long long)), "cudaMalloc (error record)");
    AC_TRY(cudaMemsetAsync(w->err_key, 0xff, sizeof(unsigned long long), stream), "cudaMemsetAsync");
    AC_TRY(cudaMallocHost(reinterpret_cast<void**>(&w->host_key), sizeof(unsigned long long)), "cudaMallocHost");
    *w->host_key = ~0ull;
    slot = std::move(w);
  }
  *out = slot.get();
  return AC_CUDA_OK;
}

void free_ws(Workspace& w) {
  cudaFree(w.partials);
  cudaFree(w.counters);
  cudaFree(w.hlist);
  cudaFree(w.scratch);
  cudaFree(w.err_key);
  cudaFreeHost(w.host_key);
  w = Workspace{};
}

// Reads (and clears) the stream's error record after synchronising.
int sync_and_check(Workspace& w, cudaStream_t stream, ac_cuda_error_info* err) {
  if (err) *err = ac_cuda_error_info{AC_CUDA_OK, -1, -1};
  AC_TRY(cudaMemcpyAsync(w.host_key, w.err_key, sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream),
         "cudaMemcpyAsync (error record)");
  AC_TRY(cudaStreamSynchronize(stream), "kernel execution");
  const unsigned long long k = *w.host_key;
  if (k == ~0ull) return AC_CUDA_OK;
  AC_TRY(cudaMemsetAsync(w.err_key, 0xff, sizeof(unsigned long long), stream), "cudaMemsetAsync");
  *w.host_key = ~0ull;
  const int64_t row = static_cast<int64_t>(k >> 34);
  const int kind = static_cast<int>((k >> 32) & 3u);
  const int64_t index = static_cast<int64_t>(k & 0xffffffffull);
  const int code = kind == 0 ? AC_CUDA_ERR_NONFINITE_EXPERT
                   : kind == 1 ? AC_CUDA_ERR_NONFINITE_AMATEUR
                               : AC_CUDA_ERR_NONFINITE_INPUT;
  if (err) *err = ac_cuda_error_info{code, row, index};
  const char* what = kind == 0 ? "expert logit" : kind == 1 ? "amateur logit" : "log-probability";
  return fail(code, "non-finite %s at row %lld, index %lld", what, static_cast<long long>(row),
              static_cast<long long>(index));
}

// ---- validation helpers ----
bool aligned(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) % a) == 0; }

int check_ptr(const void* p, const char* name, int device, bool nullable, size_t align, bool trust) {
  if (!p) {
    if (nullable) return AC_CUDA_OK;
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "%s is null", name);
  }
  if (!aligned(p, align))
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "%s is not aligned to %zu bytes", name, align);
  if (trust) return AC_CUDA_OK;
  cudaPointerAttributes at;
  const cudaError_t e = cudaPointerGetAttributes(&at, p);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "%s is not a CUDA pointer (%s)", name, cudaGetErrorString(e));
  }
  if (at.type == cudaMemoryTypeUnregistered)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "%s is a host pointer, not device memory", name);
  if (at.type == cudaMemoryTypeHost && at.devicePointer != p)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "%s is pinned host memory not mapped at the same address", name);
  if (at.type == cudaMemoryTypeDevice && at.device != device)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "%s lives on device %d, the current device is %d", name, at.device,
                device);
  return AC_CUDA_OK;
}

bool valid_dtype(int32_t d) { return d >= 0 && d <= 2; }
size_t dsize(int32_t d) { return d == 0 ? 4 : 2; }

int check_shape(int64_t rows, int64_t vocab) {
  if (rows < 1 || rows > 0x7fffffffLL) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "rows must be in [1, 2^31): %lld", static_cast<long long>(rows));
  if (vocab < 1 || vocab > 0x7ffffffeLL)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "vocab must be in [1, 2^31 - 1): %lld", static_cast<long long>(vocab));
  if (rows > (int64_t(1) << 40) / vocab)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "rows x vocab too large");
  return AC_CUDA_OK;
}

int current_device(int* dev) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();
    return fail(AC_CUDA_ERR_NO_DEVICE, "no CUDA device (%s)", e == cudaSuccess ? "device count is 0" : cudaGetErrorString(e));
  }
  AC_TRY(cudaGetDevice(dev), "cudaGetDevice");
  return AC_CUDA_OK;
}

#define AC_CHECK(expr)          \
  do {                          \
    int r_ = (expr);            \
    if (r_ != AC_CUDA_OK) return r_; \
  } while (0)

int contrast_impl(void* stream_v, int32_t dtype, const void* expert, const void* amateur,
                  const ac_cuda_sparse_amateur* sparse, int64_t rows, int64_t vocab, const ac_cuda_params* p,
                  float* out, int32_t* head_size, float* head_mass, int32_t* argmax, ac_cuda_error_info* err) {
  if (err) *err = ac_cuda_error_info{AC_CUDA_OK, -1, -1};
  cudaStream_t stream = static_cast<cudaStream_t>(stream_v);
  if (!p) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "params is null");
  if (!valid_dtype(dtype)) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "unknown dtype %d", dtype);
  AC_CHECK(check_shape(rows, vocab));
  if (p->mode != AC_CUDA_MODE_ACD && p->mode != AC_CUDA_MODE_CD)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "unknown mode %d", p->mode);
  if (!(p->alpha >= 0.f && p->alpha <= 1.f))
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "alpha must be in [0, 1]: %g", static_cast<double>(p->alpha));
  if (p->min_candidates < 1 || p->min_candidates > vocab)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "min_candidates must be in [1, vocab]: %d", p->min_candidates);
  if (p->has_beta && !std::isfinite(p->beta))
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "beta must be finite");
  const bool trust = (p->flags & AC_CUDA_FLAG_TRUST_POINTERS) != 0;
  int device = 0;
  AC_CHECK(current_device(&device));
  const size_t es = dsize(dtype);
  AC_CHECK(check_ptr(expert, "expert", device, false, es, trust));
  if (sparse) {
    if (sparse->d < 1 || sparse->d > (int64_t(1) << 31)) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "sparse d must be >= 1");
    if (!valid_dtype(sparse->weight_dtype))
      return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "unknown weight dtype %d", sparse->weight_dtype);
    AC_CHECK(check_ptr(sparse->hidden, "sparse.hidden", device, false, 4, trust));
    AC_CHECK(check_ptr(sparse->weight, "sparse.weight", device, false, dsize(sparse->weight_dtype), trust));
    AC_CHECK(check_ptr(sparse->bias, "sparse.bias", device, true, dsize(sparse->weight_dtype), trust));
  } else {
    AC_CHECK(check_ptr(amateur, "amateur", device, false, es, trust));
  }
  AC_CHECK(check_ptr(out, "out_logprobs", device, true, 4, trust));
  AC_CHECK(check_ptr(head_size, "head_size", device, true, 4, trust));
  AC_CHECK(check_ptr(head_mass, "head_mass", device, true, 4, trust));
  AC_CHECK(check_ptr(argmax, "argmax", device, true, 4, trust));

  DevInfo di;
  AC_CHECK(dev_info(device, &di));
  const int64_t cap = static_cast<int64_t>(di.occ[dtype]) * di.sms;
  int bpr = 1;
  const int tune = g_tune_bpr.load(std::memory_order_relaxed);
  if (di.coop && tune != 1) {
    int64_t want;
    if (tune > 1) {
      want = tune;
    } else if (rows >= di.sms) {
      want = 1;
    } else {
      const int64_t per_block = static_cast<int64_t>(acc::kThreads) * (dtype == 0 ? 8 : 16);
      want = (vocab + per_block - 1) / per_block;
    }
    const int64_t fit = cap / rows;
    bpr = static_cast<int>(std::min<int64_t>({want, fit, 65535}));
    if (bpr < 2) bpr = 1;
  }

  Workspace* w = nullptr;
  AC_CHECK(get_ws(device, stream, &w));
  {
    std::lock_guard<std::mutex> lk(g_ws_mu);  // growth of this stream's buffers
    if (bpr > 1) {
      AC_CHECK(grow(&w->partials, &w->n_partials, static_cast<size_t>(rows * bpr), stream, false));
      AC_CHECK(grow(&w->hlist, &w->n_hlist, static_cast<size_t>(rows * vocab), stream, false));
    }
    if (w->n_rows < static_cast<size_t>(rows)) {
      // counters live in one buffer of 3 * n_rows: re-zero it whole when it grows
      size_t have = w->n_rows * 3;
      AC_CHECK(grow(&w->counters, &have, static_cast<size_t>(rows) * 3, stream, true));
      w->n_rows = have / 3;
    }
    if (!out) AC_CHECK(grow(&w->scratch, &w->n_scratch, static_cast<size_t>(rows * vocab), stream, false));
  }

  acc::ContrastArgs a;
  a.expert = expert;
  a.amateur = sparse ? nullptr : amateur;
  if (sparse) {
    a.hidden = sparse->hidden;
    a.weight = sparse->weight;
    a.bias = sparse->bias;
    a.wdt = sparse->weight_dtype;
    a.d = sparse->d;
  }
  a.V = vocab;
  a.cd = p->mode == AC_CUDA_MODE_CD;
  // Exactly the CPU path's threshold arithmetic: thr = m + ln(alpha) in float, ln evaluated by the host libm.
  a.log_alpha = p->alpha > 0.f ? std::log(p->alpha) : -std::numeric_limits<float>::infinity();
  a.min_cand = p->min_candidates;
  a.has_beta = p->has_beta != 0;
  a.beta = p->beta;
  a.scan_amateur = (p->flags & AC_CUDA_FLAG_SKIP_AMATEUR_SCAN) == 0;
  a.out = out ? out : w->scratch;
  a.write_all = out != nullptr;
  a.head_size = head_size;
  a.head_mass = head_mass;
  a.argmax = argmax;
  a.partials = w->partials;
  a.bar = w->counters;
  a.done = w->counters + w->n_rows;
  a.hcount = reinterpret_cast<int*>(w->counters + 2 * w->n_rows);
  a.hlist = w->hlist;
  a.err_key = w->err_key;

  cudaError_t e = acc::launch_contrast(dtype, a, rows, bpr, stream);
  if (e == cudaErrorCooperativeLaunchTooLarge || e == cudaErrorNotSupported) {
    cudaGetLastError();
    e = acc::launch_contrast(dtype, a, rows, 1, stream);
  }
  if (e != cudaSuccess) return cuda_fail(e, "contrast kernel launch");
  if (p->flags & AC_CUDA_FLAG_ASYNC) return AC_CUDA_OK;
  return sync_and_check(*w, stream, err);
}

int select_impl(void* stream_v, const float* lp, int64_t rows, int64_t vocab, const ac_cuda_select_params* p,
                int32_t* tokens, ac_cuda_error_info* err) {
  if (err) *err = ac_cuda_error_info{AC_CUDA_OK, -1, -1};
  cudaStream_t stream = static_cast<cudaStream_t>(stream_v);
  if (!p) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "params is null");
  AC_CHECK(check_shape(rows, vocab));
  if (p->method != AC_CUDA_SELECT_ARGMAX && p->method != AC_CUDA_SELECT_SAMPLE)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "unknown selection method %d", p->method);
  if (p->method == AC_CUDA_SELECT_SAMPLE) {
    if (p->top_k < 0 || p->top_k > vocab)
      return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "top_k must be in [0, vocab]: %d", p->top_k);
    if (!(p->top_p > 0.f && p->top_p <= 1.f))
      return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "top_p must be in (0, 1]: %g", static_cast<double>(p->top_p));
    if (!(p->temperature > 0.0) || !std::isfinite(p->temperature))
      return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "temperature must be finite and > 0: %g",
                  static_cast<double>(p->temperature));
  }
  const bool trust = (p->flags & AC_CUDA_FLAG_TRUST_POINTERS) != 0;
  int device = 0;
  AC_CHECK(current_device(&device));
  AC_CHECK(check_ptr(lp, "logprobs", device, false, 4, trust));
  AC_CHECK(check_ptr(tokens, "tokens", device, false, 4, trust));
  if (p->method == AC_CUDA_SELECT_SAMPLE) AC_CHECK(check_ptr(p->uniforms, "uniforms", device, false, 8, trust));
  Workspace* w = nullptr;
  AC_CHECK(get_ws(device, stream, &w));
  acc::SelectArgs a;
  a.lp = lp;
  a.V = vocab;
  a.method = p->method;
  a.top_k = p->top_k;
  a.top_p = p->top_p;
  a.inv_t = p->method == AC_CUDA_SELECT_SAMPLE ? static_cast<float>(1.0 / p->temperature) : 1.f;
  a.temperature = p->method == AC_CUDA_SELECT_SAMPLE ? p->temperature : 1.0;
  a.uniforms = p->uniforms;
  a.tokens = tokens;
  a.err_key = w->err_key;
  cudaError_t e = acc::launch_select(a, rows, stream);
  if (e != cudaSuccess) return cuda_fail(e, "select kernel launch");
  if (p->flags & AC_CUDA_FLAG_ASYNC) return AC_CUDA_OK;
  return sync_and_check(*w, stream, err);
}

int beam_impl(void* stream_v, const float* lp, int64_t rows, int64_t vocab, int32_t k, uint32_t flags, float* vals,
              int32_t* idx, ac_cuda_error_info* err) {
  if (err) *err = ac_cuda_error_info{AC_CUDA_OK, -1, -1};
  cudaStream_t stream = static_cast<cudaStream_t>(stream_v);
  AC_CHECK(check_shape(rows, vocab));
  if (k < 1 || k > 1024 || k > vocab)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "k must be in [1, min(vocab, 1024)]: %d", k);
  const bool trust = (flags & AC_CUDA_FLAG_TRUST_POINTERS) != 0;
  int device = 0;
  AC_CHECK(current_device(&device));
  AC_CHECK(check_ptr(lp, "logprobs", device, false, 4, trust));
  AC_CHECK(check_ptr(vals, "cand_logprobs", device, false, 4, trust));
  AC_CHECK(check_ptr(idx, "cand_tokens", device, false, 4, trust));
  Workspace* w = nullptr;
  AC_CHECK(get_ws(device, stream, &w));
  acc::BeamArgs a;
  a.lp = lp;
  a.V = vocab;
  a.k = k;
  a.vals = vals;
  a.idx = idx;
  a.err_key = w->err_key;
  cudaError_t e = acc::launch_beam(a, rows, stream);
  if (e != cudaSuccess) return cuda_fail(e, "beam kernel launch");
  if (flags & AC_CUDA_FLAG_ASYNC) return AC_CUDA_OK;
  return sync_and_check(*w, stream, err);
}

// ---- host staging ----
struct Staging {
  std::mutex mu;
  cudaStream_t stream = nullptr;
  void* buf[8] = {};
  size_t cap[8] = {};
};
std::mutex g_stage_mu;
std::map<int, std::unique_ptr<Staging>> g_stage;

// Makes `device` current for the scope and restores the caller's device afterwards.
struct DeviceScope {
  int prev = -1;
  int rc = AC_CUDA_OK;
  explicit DeviceScope(int device) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
      cudaGetLastError();
      rc = fail(AC_CUDA_ERR_NO_DEVICE, "no CUDA device");
      return;
    }
    if (device < 0 || device >= n) {
      rc = fail(AC_CUDA_ERR_NO_DEVICE, "device %d does not exist (%d devices)", device, n);
      return;
    }
    cudaGetDevice(&prev);
    if (cudaSetDevice(device) != cudaSuccess) rc = cuda_fail(cudaGetLastError(), "cudaSetDevice");
  }
  ~DeviceScope() {
    if (prev >= 0) cudaSetDevice(prev);
  }
};

int staging(int device, Staging** out) {
  std::lock_guard<std::mutex> lk(g_stage_mu);
  auto& s = g_stage[device];
  if (!s) {
    auto n = std::make_unique<Staging>();
    AC_TRY(cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    s = std::move(n);
  }
  *out = s.get();
  return AC_CUDA_OK;
}

// Grows staging slot `i` to at least `bytes` (after the stream is idle, since the old buffer may be in use).
int ensure_capacity(Staging& s, int i, size_t bytes) {
  if (s.cap[i] >= bytes) return AC_CUDA_OK;
  AC_TRY(cudaStreamSynchronize(s.stream), "cudaStreamSynchronize");
  cudaFree(s.buf[i]);
  s.buf[i] = nullptr;
  s.cap[i] = 0;
  AC_TRY(cudaMalloc(&s.buf[i], bytes), "cudaMalloc (staging)");
  s.cap[i] = bytes;
  return AC_CUDA_OK;
}

// Device copy of a host array in slot `i` (or null when host is null / bytes is 0 and nullable).
int stage_in(Staging& s, int i, const void* host, size_t bytes, void** dev) {
  *dev = nullptr;
  if (!host) return AC_CUDA_OK;
  if (const int st = ensure_capacity(s, i, bytes)) return st;
  if (bytes) AC_TRY(cudaMemcpyAsync(s.buf[i], host, bytes, cudaMemcpyHostToDevice, s.stream), "cudaMemcpyAsync (to device)");
  *dev = s.buf[i];
  return AC_CUDA_OK;
}
int stage_out_buf(Staging& s, int i, void* host, size_t bytes, void** dev) {
  *dev = nullptr;
  if (!host) return AC_CUDA_OK;
  if (const int st = ensure_capacity(s, i, bytes)) return st;
  *dev = s.buf[i];
  return AC_CUDA_OK;
}
int copy_back(Staging& s, void* host, const void* dev, size_t bytes) {
  if (!host || !dev) return AC_CUDA_OK;
  AC_TRY(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, s.stream), "cudaMemcpyAsync (to host)");
  return AC_CUDA_OK;
}

int contrast_host_impl(int device, int32_t dtype, const void* expert, const void* amateur,
                       const ac_cuda_sparse_amateur* sparse, int64_t rows, int64_t vocab, const ac_cuda_params* p,
                       float* out, int32_t* head_size, float* head_mass, int32_t* argmax, ac_cuda_error_info* err) {
  if (err) *err = ac_cuda_error_info{AC_CUDA_OK, -1, -1};
  if (!p) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "params is null");
  if (!valid_dtype(dtype)) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "unknown dtype %d", dtype);
  AC_CHECK(check_shape(rows, vocab));
  if (!expert) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "expert is null");
  if (sparse) {
    if (!sparse->hidden || !sparse->weight) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "sparse hidden/weight is null");
    if (sparse->d < 1) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "sparse d must be >= 1");
    if (!valid_dtype(sparse->weight_dtype)) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "unknown weight dtype");
  } else if (!amateur) {
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "amateur is null");
  }
  DeviceScope scope(device);
  if (scope.rc != AC_CUDA_OK) return scope.rc;
  Staging* s = nullptr;
  AC_CHECK(staging(device, &s));
  std::lock_guard<std::mutex> lk(s->mu);
  const size_t n = static_cast<size_t>(rows * vocab), es = dsize(dtype);
  void *d_e, *d_a = nullptr, *d_h = nullptr, *d_w = nullptr, *d_b = nullptr, *d_out, *d_hs, *d_hm, *d_am;
  AC_CHECK(stage_in(*s, 0, expert, n * es, &d_e));
  ac_cuda_sparse_amateur sp{};
  if (sparse) {
    const size_t ws = dsize(sparse->weight_dtype);
    AC_CHECK(stage_in(*s, 1, sparse->hidden, static_cast<size_t>(rows * sparse->d) * 4, &d_h));
    AC_CHECK(stage_in(*s, 2, sparse->weight, static_cast<size_t>(vocab * sparse->d) * ws, &d_w));
    AC_CHECK(stage_in(*s, 3, sparse->bias, static_cast<size_t>(vocab) * ws, &d_b));
    sp = *sparse;
    sp.hidden = static_cast<const float*>(d_h);
    sp.weight = d_w;
    sp.bias = d_b;
  } else {
    AC_CHECK(stage_in(*s, 1, amateur, n * es, &d_a));
  }
  AC_CHECK(stage_out_buf(*s, 4, out, n * 4, &d_out));
  AC_CHECK(stage_out_buf(*s, 5, head_size, static_cast<size_t>(rows) * 4, &d_hs));
  AC_CHECK(stage_out_buf(*s, 6, head_mass, static_cast<size_t>(rows) * 4, &d_hm));
  AC_CHECK(stage_out_buf(*s, 7, argmax, static_cast<size_t>(rows) * 4, &d_am));
  ac_cuda_params q = *p;
  q.flags = (q.flags & ~AC_CUDA_FLAG_ASYNC) | AC_CUDA_FLAG_TRUST_POINTERS;
  const int rc = contrast_impl(s->stream, dtype, d_e, d_a, sparse ? &sp : nullptr, rows, vocab, &q,
                               static_cast<float*>(d_out), static_cast<int32_t*>(d_hs), static_cast<float*>(d_hm),
                               static_cast<int32_t*>(d_am), err);
  if (rc != AC_CUDA_OK && rc != AC_CUDA_ERR_NONFINITE_EXPERT && rc != AC_CUDA_ERR_NONFINITE_AMATEUR) return rc;
  const std::string keep = g_msg;
  AC_CHECK(copy_back(*s, out, d_out, n * 4));
  AC_CHECK(copy_back(*s, head_size, d_hs, static_cast<size_t>(rows) * 4));
  AC_CHECK(copy_back(*s, head_mass, d_hm, static_cast<size_t>(rows) * 4));
  AC_CHECK(copy_back(*s, argmax, d_am, static_cast<size_t>(rows) * 4));
  AC_TRY(cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
  g_msg = keep;
  return rc;
}

// ---- gather for the decode loop (ac_cuda_gather_rows) ----
__global__ void gather_rows_kernel(const float* values, int64_t rows, int64_t vocab, const int32_t* index,
                                   float* out) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const int32_t i = index[r];
  out[r] = (i >= 0 && i < vocab) ? values[r * vocab + i] : __int_as_float(0x7fc00000);
}

}  // namespace

extern "C" {

AC_CUDA_API const char* ac_cuda_version(void) {
  static char buf[128];
  static std::once_flag once;
  std::call_once(once, [] {
    std::snprintf(buf, sizeof buf, "autocontrast-cuda %s (abi %d, cuda runtime %d)", AC_CUDA_VERSION_STRING,
                  AC_CUDA_ABI_VERSION, CUDART_VERSION);
  });
  return buf;
}

AC_CUDA_API int ac_cuda_abi_version(void) { return AC_CUDA_ABI_VERSION; }

AC_CUDA_API int ac_cuda_device_count(void) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (e == cudaErrorInsufficientDriver)
      fail(AC_CUDA_ERR_NO_DEVICE, "no CUDA driver (libcuda.so.1 not found or older than the CUDA runtime %d)",
           CUDART_VERSION);
    else if (e == cudaErrorNoDevice)
      fail(AC_CUDA_ERR_NO_DEVICE, "no CUDA device");
    else
      fail(AC_CUDA_ERR_NO_DEVICE, "CUDA unavailable: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    return 0;
  }
  if (n == 0) fail(AC_CUDA_ERR_NO_DEVICE, "no CUDA device");
  return n;
}

AC_CUDA_API int ac_cuda_device_name(int device, char* buf, size_t len) {
  if (!buf || len == 0) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "buf is null or empty");
  buf[0] = 0;
  const int n = ac_cuda_device_count();
  if (device < 0 || device >= n) return fail(AC_CUDA_ERR_NO_DEVICE, "device %d does not exist (%d devices)", device, n);
  cudaDeviceProp prop;
  AC_TRY(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  std::snprintf(buf, len, "%s", prop.name);
  return AC_CUDA_OK;
}

AC_CUDA_API const char* ac_cuda_last_error_message(void) { return g_msg.c_str(); }

AC_CUDA_API int ac_cuda_set_tuning(int key, int value) {
  if (key == AC_CUDA_TUNE_BLOCKS_PER_ROW) {
    if (value < 0) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "blocks per row must be >= 0");
    g_tune_bpr.store(value);
    return AC_CUDA_OK;
  }
  return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "unknown tuning key %d", key);
}

AC_CUDA_API int ac_cuda_release(void) {
  int prev = -1;
  cudaGetDevice(&prev);
  {
    std::lock_guard<std::mutex> lk(g_ws_mu);
    for (auto& kv : g_ws) {
      cudaSetDevice(kv.first.first);
      cudaDeviceSynchronize();
      free_ws(*kv.second);
    }
    g_ws.clear();
  }
  {
    std::lock_guard<std::mutex> lk(g_stage_mu);
    for (auto& kv : g_stage) {
      cudaSetDevice(kv.first);
      cudaStreamSynchronize(kv.second->stream);
      for (void* b : kv.second->buf) cudaFree(b);
      cudaStreamDestroy(kv.second->stream);
    }
    g_stage.clear();
  }
  if (prev >= 0) cudaSetDevice(prev);
  cudaGetLastError();
  return AC_CUDA_OK;
}

AC_CUDA_API int ac_cuda_contrast(void* stream, int32_t dtype, const void* expert, const void* amateur, int64_t rows,
                                 int64_t vocab, const ac_cuda_params* params, float* out_logprobs,
                                 int32_t* head_size, float* head_mass, int32_t* argmax, ac_cuda_error_info* err) {
  return contrast_impl(stream, dtype, expert, amateur, nullptr, rows, vocab, params, out_logprobs, head_size,
                       head_mass, argmax, err);
}

AC_CUDA_API int ac_cuda_contrast_sparse(void* stream, int32_t dtype, const void* expert,
                                        const ac_cuda_sparse_amateur* sparse, int64_t rows, int64_t vocab,
                                        const ac_cuda_params* params, float* out_logprobs, int32_t* head_size,
                                        float* head_mass, int32_t* argmax, ac_cuda_error_info* err) {
  if (!sparse) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "sparse is null");
  return contrast_impl(stream, dtype, expert, nullptr, sparse, rows, vocab, params, out_logprobs, head_size,
                       head_mass, argmax, err);
}

AC_CUDA_API int ac_cuda_select(void* stream, const float* logprobs, int64_t rows, int64_t vocab,
                               const ac_cuda_select_params* params, int32_t* tokens, ac_cuda_error_info* err) {
  return select_impl(stream, logprobs, rows, vocab, params, tokens, err);
}

AC_CUDA_API int ac_cuda_beam_candidates(void* stream, const float* logprobs, int64_t rows, int64_t vocab, int32_t k,
                                        uint32_t flags, float* cand_logprobs, int32_t* cand_tokens,
                                        ac_cuda_error_info* err) {
  return beam_impl(stream, logprobs, rows, vocab, k, flags, cand_logprobs, cand_tokens, err);
}

AC_CUDA_API int ac_cuda_check_error(void* stream, ac_cuda_error_info* err) {
  if (err) *err = ac_cuda_error_info{AC_CUDA_OK, -1, -1};
  int device = 0;
  AC_CHECK(current_device(&device));
  Workspace* w = nullptr;
  AC_CHECK(get_ws(device, static_cast<cudaStream_t>(stream), &w));
  return sync_and_check(*w, static_cast<cudaStream_t>(stream), err);
}

AC_CUDA_API int ac_cuda_contrast_host(int device, int32_t dtype, const void* expert, const void* amateur,
                                      int64_t rows, int64_t vocab, const ac_cuda_params* params,
                                      float* out_logprobs, int32_t* head_size, float* head_mass, int32_t* argmax,
                                      ac_cuda_error_info* err) {
  return contrast_host_impl(device, dtype, expert, amateur, nullptr, rows, vocab, params, out_logprobs, head_size,
                            head_mass, argmax, err);
}

AC_CUDA_API int ac_cuda_contrast_sparse_host(int device, int32_t dtype, const void* expert,
                                             const ac_cuda_sparse_amateur* sparse, int64_t rows, int64_t vocab,
                                             const ac_cuda_params* params, float* out_logprobs,
                                             int32_t* head_size, float* head_mass, int32_t* argmax,
                                             ac_cuda_error_info* err) {
  if (!sparse) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "sparse is null");
  return contrast_host_impl(device, dtype, expert, nullptr, sparse, rows, vocab, params, out_logprobs, head_size,
                            head_mass, argmax, err);
}

AC_CUDA_API int ac_cuda_select_host(int device, const float* logprobs, int64_t rows, int64_t vocab,
                                    const ac_cuda_select_params* params, int32_t* tokens, ac_cuda_error_info* err) {
  if (err) *err = ac_cuda_error_info{AC_CUDA_OK, -1, -1};
  if (!params) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "params is null");
  AC_CHECK(check_shape(rows, vocab));
  if (!logprobs || !tokens) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "logprobs or tokens is null");
  DeviceScope scope(device);
  if (scope.rc != AC_CUDA_OK) return scope.rc;
  Staging* s = nullptr;
  AC_CHECK(staging(device, &s));
  std::lock_guard<std::mutex> lk(s->mu);
  void *d_lp, *d_t;
  AC_CHECK(stage_in(*s, 0, logprobs, static_cast<size_t>(rows * vocab) * 4, &d_lp));
  AC_CHECK(stage_out_buf(*s, 7, tokens, static_cast<size_t>(rows) * 4, &d_t));
  ac_cuda_select_params q = *params;
  q.flags = (q.flags & ~AC_CUDA_FLAG_ASYNC) | AC_CUDA_FLAG_TRUST_POINTERS;
  const int rc = select_impl(s->stream, static_cast<const float*>(d_lp), rows, vocab, &q,
                             static_cast<int32_t*>(d_t), err);
  if (rc != AC_CUDA_OK && rc != AC_CUDA_ERR_NONFINITE_INPUT) return rc;
  const std::string keep = g_msg;
  AC_CHECK(copy_back(*s, tokens, d_t, static_cast<size_t>(rows) * 4));
  AC_TRY(cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
  g_msg = keep;
  return rc;
}

AC_CUDA_API int ac_cuda_beam_candidates_host(int device, const float* logprobs, int64_t rows, int64_t vocab,
                                             int32_t k, float* cand_logprobs, int32_t* cand_tokens,
                                             ac_cuda_error_info* err) {
  if (err) *err = ac_cuda_error_info{AC_CUDA_OK, -1, -1};
  AC_CHECK(check_shape(rows, vocab));
  if (k < 1 || k > 1024 || k > vocab)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "k must be in [1, min(vocab, 1024)]: %d", k);
  if (!logprobs || !cand_logprobs || !cand_tokens)
    return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "logprobs, cand_logprobs or cand_tokens is null");
  DeviceScope scope(device);
  if (scope.rc != AC_CUDA_OK) return scope.rc;
  Staging* s = nullptr;
  AC_CHECK(staging(device, &s));
  std::lock_guard<std::mutex> lk(s->mu);
  void *d_lp, *d_v, *d_i;
  const size_t nk = static_cast<size_t>(rows) * static_cast<size_t>(k);
  AC_CHECK(stage_in(*s, 0, logprobs, static_cast<size_t>(rows * vocab) * 4, &d_lp));
  AC_CHECK(stage_out_buf(*s, 4, cand_logprobs, nk * 4, &d_v));
  AC_CHECK(stage_out_buf(*s, 5, cand_tokens, nk * 4, &d_i));
  const int rc = beam_impl(s->stream, static_cast<const float*>(d_lp), rows, vocab, k, AC_CUDA_FLAG_TRUST_POINTERS,
                           static_cast<float*>(d_v), static_cast<int32_t*>(d_i), err);
  if (rc != AC_CUDA_OK && rc != AC_CUDA_ERR_NONFINITE_INPUT) return rc;
  const std::string keep = g_msg;
  AC_CHECK(copy_back(*s, cand_logprobs, d_v, nk * 4));
  AC_CHECK(copy_back(*s, cand_tokens, d_i, nk * 4));
  AC_TRY(cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
  g_msg = keep;
  return rc;
}

AC_CUDA_API int ac_cuda_set_device(int device) {
  AC_TRY(cudaSetDevice(device), "cudaSetDevice");
  return AC_CUDA_OK;
}

AC_CUDA_API int ac_cuda_stream_create(int device, void** stream) {
  if (!stream) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "stream is null");
  *stream = nullptr;
  AC_TRY(cudaSetDevice(device), "cudaSetDevice");
  cudaStream_t st = nullptr;
  AC_TRY(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  *stream = st;
  return AC_CUDA_OK;
}

AC_CUDA_API int ac_cuda_stream_destroy(void* stream) {
  if (!stream) return AC_CUDA_OK;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  AC_TRY(cudaStreamSynchronize(st), "cudaStreamSynchronize");
  {
    std::lock_guard<std::mutex> lk(g_ws_mu);
    for (auto it = g_ws.begin(); it != g_ws.end();) {
      if (it->first.second == stream) {
        free_ws(*it->second);
        it = g_ws.erase(it);
      } else {
        ++it;
      }
    }
  }
  AC_TRY(cudaStreamDestroy(st), "cudaStreamDestroy");
  return AC_CUDA_OK;
}

AC_CUDA_API int ac_cuda_stream_synchronize(void* stream) {
  AC_TRY(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
  return AC_CUDA_OK;
}

AC_CUDA_API int ac_cuda_malloc(int device, size_t bytes, void** ptr) {
  if (!ptr) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "ptr is null");
  *ptr = nullptr;
  AC_TRY(cudaSetDevice(device), "cudaSetDevice");
  AC_TRY(cudaMalloc(ptr, bytes ? bytes : 256), "cudaMalloc");
  return AC_CUDA_OK;
}

AC_CUDA_API int ac_cuda_free(void* ptr) {
  if (!ptr) return AC_CUDA_OK;
  AC_TRY(cudaFree(ptr), "cudaFree");
  return AC_CUDA_OK;
}

AC_CUDA_API int ac_cuda_memcpy_async(void* stream, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return AC_CUDA_OK;
  if (!dst || !src) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "dst or src is null");
  AC_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)), "cudaMemcpyAsync");
  return AC_CUDA_OK;
}

AC_CUDA_API int ac_cuda_gather_rows(void* stream, const float* values, int64_t rows, int64_t vocab,
                                    const int32_t* index, float* out) {
  AC_CHECK(check_shape(rows, vocab));
  if (!values || !index || !out) return fail(AC_CUDA_ERR_INVALID_ARGUMENT, "values, index or out is null");
  const int threads = 128;
  const unsigned blocks = static_cast<unsigned>((rows + threads - 1) / threads);
  gather_rows_kernel<<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(values, rows, vocab, index, out);
  AC_TRY(cudaGetLastError(), "gather kernel launch");
  return AC_CUDA_OK;
}

}  // extern "C"
