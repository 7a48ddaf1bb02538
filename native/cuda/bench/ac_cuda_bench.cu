// ac_cuda_bench: CUDA-event timings of the contrast kernels, written as JSON.
// Usage: ac_cuda_bench [--out results.json] [--quick]
//
// - batch 1, V = 50257: contrast + fused arg-max, microseconds end to end on the stream (each iteration is
//   bracketed by its own event pair, so host submission latency shows; median of many), for each dtype,
//   with and without writing the log-probs, for several blocks-per-row settings; "hot" reuses one buffer
//   (logits in L2, as right after the LM head), "cold" rotates over copies larger than L2.
// - batch 1/8/64/256: throughput (back-to-back launches between one event pair) and achieved bandwidth, with
//   the inputs rotated over more than 4x the L2 size so they come from DRAM, against the theoretical peak
//   (2 x memory clock x bus width) and a measured device-to-device cudaMemcpy peak from the same run.
// - selection: arg-max, top-p sampling, beam top-8 timings.
// Prints "SKIP: no CUDA device" and exits 0 when there is none.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ac_cuda.h"
#include "half.h"

namespace {

#define CU(call)                                                                                   \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      std::fprintf(stderr, "CUDA %s at %s:%d: %s\n", #call, __FILE__, __LINE__, cudaGetErrorString(e_)); \
      std::exit(2);                                                                                \
    }                                                                                              \
  } while (0)

std::string g_json;
bool g_first = true;
void jrec(const std::string& obj) {
  g_json += g_first ? "\n    " : ",\n    ";
  g_json += obj;
  g_first = false;
}

const char* dname(int dt) { return dt == 0 ? "f32" : dt == 1 ? "f16" : "bf16"; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Per-iteration event pairs; returns median microseconds.
double time_each(cudaStream_t s, int warm, int iters, const std::function<void(int)>& fn) {
  for (int i = 0; i < warm; ++i) fn(i);
  CU(cudaStreamSynchronize(s));
  std::vector<cudaEvent_t> ev(2 * iters);
  for (auto& e : ev) CU(cudaEventCreate(&e));
  for (int i = 0; i < iters; ++i) {
    CU(cudaEventRecord(ev[2 * i], s));
    fn(i);
    CU(cudaEventRecord(ev[2 * i + 1], s));
  }
  CU(cudaStreamSynchronize(s));
  std::vector<double> t(iters);
  for (int i = 0; i < iters; ++i) {
    float ms = 0;
    CU(cudaEventElapsedTime(&ms, ev[2 * i], ev[2 * i + 1]));
    t[i] = ms * 1000.0;
  }
  for (auto& e : ev) cudaEventDestroy(e);
  return median(t);
}

// Back-to-back launches between one event pair, repeated `reps` times; returns median microseconds per call.
double time_batch(cudaStream_t s, int warm, int iters, int reps, const std::function<void(int)>& fn) {
  for (int i = 0; i < warm; ++i) fn(i);
  CU(cudaStreamSynchronize(s));
  cudaEvent_t a, b;
  CU(cudaEventCreate(&a));
  CU(cudaEventCreate(&b));
  std::vector<double> t;
  int k = 0;
  for (int r = 0; r < reps; ++r) {
    CU(cudaEventRecord(a, s));
    for (int i = 0; i < iters; ++i) fn(k++);
    CU(cudaEventRecord(b, s));
    CU(cudaEventSynchronize(b));
    float ms = 0;
    CU(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms * 1000.0 / iters);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(t);
}

void fill_logits(std::vector<uint8_t>& bytes, int dt, size_t n, uint32_t seed, float scale, float shift) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  const size_t es = dt == 0 ? 4 : 2;
  bytes.resize(n * es);
  for (size_t i = 0; i < n; ++i) {
    float x = scale * nd(rng) + shift;
    if (rng() % 5000 == 0) x += 14.f;  // a few plausible tokens per row
    if (dt == 0) std::memcpy(&bytes[i * 4], &x, 4);
    else {
      const uint16_t h = dt == 1 ? ac::float_to_f16(x) : ac::float_to_bf16(x);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path = "ac_cuda_bench.json";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--out") && i + 1 < argc) out_path = argv[++i];
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else {
      std::fprintf(stderr, "usage: %s [--out results.json] [--quick]\n", argv[0]);
      return 2;
    }
  }
  std::printf("%s\n", ac_cuda_version());
  if (ac_cuda_device_count() <= 0) {
    std::printf("SKIP: no CUDA device (%s)\n", ac_cuda_last_error_message());
    return 0;
  }
  CU(cudaSetDevice(0));
  cudaDeviceProp prop;
  CU(cudaGetDeviceProperties(&prop, 0));
  int mem_clock_khz = 0, bus_bits = 0, l2 = 0, sms = 0;
  cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, 0);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
  cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  const double peak_theory = 2.0 * mem_clock_khz * 1e3 * (bus_bits / 8.0);  // bytes/s (DDR)
  cudaStream_t s;
  CU(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  // Measured copy peak: device-to-device memcpy of 1 GiB (reads + writes).
  double peak_copy = 0;
  {
    const size_t bytes = size_t(1) << 30;
    void *a = nullptr, *b = nullptr;
    if (cudaMalloc(&a, bytes) == cudaSuccess && cudaMalloc(&b, bytes) == cudaSuccess) {
      const double us = time_batch(s, 2, 5, 5, [&](int) { cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, s); });
      peak_copy = 2.0 * bytes / (us * 1e-6);
    }
    cudaGetLastError();
    cudaFree(a);
    cudaFree(b);
  }
  std::printf("device: %s, %d SMs, L2 %d MiB, theoretical %.0f GB/s, memcpy D2D %.0f GB/s\n", prop.name, sms,
              l2 >> 20, peak_theory / 1e9, peak_copy / 1e9);

  const int64_t V = 50257;
  ac_cuda_params p{};
  p.mode = AC_CUDA_MODE_ACD;
  p.alpha = 0.1f;
  p.min_candidates = 1;
  p.flags = AC_CUDA_FLAG_ASYNC | AC_CUDA_FLAG_TRUST_POINTERS;

  int32_t* d_am = nullptr;
  int32_t* d_hs = nullptr;
  float* d_mass = nullptr;
  CU(cudaMalloc(&d_am, 256 * 4));
  CU(cudaMalloc(&d_hs, 256 * 4));
  CU(cudaMalloc(&d_mass, 256 * 4));
  float* d_out = nullptr;
  CU(cudaMalloc(&d_out, 256 * V * 4));

  // ---- batch 1 latency ----
  double best_b1 = 1e30;
  for (int dt = 0; dt < 3; ++dt) {
    const size_t es = dt == 0 ? 4 : 2;
    const size_t row_bytes = V * es;
    const int copies = std::max(2, static_cast<int>((4.0 * l2) / (2.0 * row_bytes)) + 1);
    std::vector<uint8_t> he, ha;
    fill_logits(he, dt, V, 1 + dt, 2.5f, 0.f);
    fill_logits(ha, dt, V, 100 + dt, 2.5f, -1.f);
    uint8_t *de = nullptr, *da = nullptr;
    CU(cudaMalloc(&de, row_bytes * copies));
    CU(cudaMalloc(&da, row_bytes * copies));
    for (int c = 0; c < copies; ++c) {
      CU(cudaMemcpy(de + c * row_bytes, he.data(), row_bytes, cudaMemcpyHostToDevice));
      CU(cudaMemcpy(da + c * row_bytes, ha.data(), row_bytes, cudaMemcpyHostToDevice));
    }
    std::vector<int> bprs = quick ? std::vector<int>{0, 1} : std::vector<int>{0, 1, 4, 8, 16, 24, 32, 48, 64};
    for (int bpr : bprs) {
      ac_cuda_set_tuning(AC_CUDA_TUNE_BLOCKS_PER_ROW, bpr);
      for (int with_out = 1; with_out >= 0; --with_out) {
        for (int cold = 0; cold <= 1; ++cold) {
          int rc = 0;
          const double us = time_each(s, 50, quick ? 200 : 1000, [&](int i) {
            const size_t c = cold ? static_cast<size_t>(i % copies) : 0;
            rc |= ac_cuda_contrast(s, dt, de + c * row_bytes, da + c * row_bytes, 1, V, &p, with_out ? d_out : nullptr,
                                   d_hs, d_mass, d_am, nullptr);
          });
          char buf[512];
          std::snprintf(buf, sizeof buf,
                        "{\"bench\": \"contrast_argmax_b1\", \"dtype\": \"%s\", \"V\": %lld, \"blocks_per_row\": %d, "
                        "\"write_logprobs\": %s, \"cache\": \"%s\", \"median_us\": %.3f, \"rc\": %d}",
                        dname(dt), static_cast<long long>(V), bpr, with_out ? "true" : "false", cold ? "cold" : "hot",
                        us, rc);
          jrec(buf);
          std::printf("b1 %-4s bpr=%-2d out=%d %-4s %8.2f us%s\n", dname(dt), bpr, with_out, cold ? "cold" : "hot", us,
                      rc ? " (error)" : "");
          if (with_out && bpr == 0 && !rc) best_b1 = std::min(best_b1, us);
        }
      }
    }
    // default validation (pointer checks, synchronous error check) for reference
    {
      ac_cuda_set_tuning(AC_CUDA_TUNE_BLOCKS_PER_ROW, 0);
      ac_cuda_params q = p;
      q.flags = 0;
      const double us = time_each(s, 20, quick ? 100 : 300, [&](int) {
        ac_cuda_contrast(s, dt, de, da, 1, V, &q, d_out, d_hs, d_mass, d_am, nullptr);
      });
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "{\"bench\": \"contrast_argmax_b1_sync_validated\", \"dtype\": \"%s\", \"V\": %lld, "
                    "\"median_us\": %.3f}",
                    dname(dt), static_cast<long long>(V), us);
      jrec(buf);
      std::printf("b1 %-4s synchronous + validated: %8.2f us (includes host sync)\n", dname(dt), us);
    }
    cudaFree(de);
    cudaFree(da);
  }
  ac_cuda_set_tuning(AC_CUDA_TUNE_BLOCKS_PER_ROW, 0);

  // ---- throughput and bandwidth ----
  double best_bw_frac = 0;
  for (int dt = 0; dt < 3; ++dt) {
    const size_t es = dt == 0 ? 4 : 2;
    for (int64_t B : {1, 8, 64, 256}) {
      const size_t set_bytes = static_cast<size_t>(B) * V * es;
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      int copies = std::max(1, static_cast<int>((4.0 * l2) / set_bytes) + 1);
      while (copies > 1 && 2.0 * copies * set_bytes > 0.5 * free_b) --copies;
      std::vector<uint8_t> he, ha;
      fill_logits(he, dt, static_cast<size_t>(B) * V, 7 + dt, 2.5f, 0.f);
      fill_logits(ha, dt, static_cast<size_t>(B) * V, 70 + dt, 2.5f, -1.f);
      uint8_t *de = nullptr, *da = nullptr;
      CU(cudaMalloc(&de, set_bytes * copies));
      CU(cudaMalloc(&da, set_bytes * copies));
      for (int c = 0; c < copies; ++c) {
        CU(cudaMemcpy(de + c * set_bytes, he.data(), set_bytes, cudaMemcpyHostToDevice));
        CU(cudaMemcpy(da + c * set_bytes, ha.data(), set_bytes, cudaMemcpyHostToDevice));
      }
      struct Variant {
        const char* name;
        bool out;
        uint32_t flags;
      } variants[] = {
          {"full (log-probs + amateur scan)", true, 0},
          {"log-probs, head-only amateur", true, AC_CUDA_FLAG_SKIP_AMATEUR_SCAN},
          {"argmax only, head-only amateur", false, AC_CUDA_FLAG_SKIP_AMATEUR_SCAN},
      };
      for (const Variant& var : variants) {
        ac_cuda_params q = p;
        q.flags |= var.flags;
        const double us = time_batch(s, 10, quick ? 10 : 50, 7, [&](int i) {
          const size_t c = static_cast<size_t>(i % copies);
          ac_cuda_contrast(s, dt, de + c * set_bytes, da + c * set_bytes, B, V, &q, var.out ? d_out : nullptr, d_hs,
                           d_mass, d_am, nullptr);
        });
        const bool scan = (var.flags & AC_CUDA_FLAG_SKIP_AMATEUR_SCAN) == 0;
        const double read = static_cast<double>(set_bytes) * (scan ? 2 : 1);
        const double written = var.out ? static_cast<double>(B) * V * 4 : 0;
        const double rbw = read / (us * 1e-6), tbw = (read + written) / (us * 1e-6);
        const double frac = tbw / peak_theory;
        if (B == 256) best_bw_frac = std::max(best_bw_frac, frac);
        char buf[768];
        std::snprintf(buf, sizeof buf,
                      "{\"bench\": \"contrast_throughput\", \"dtype\": \"%s\", \"rows\": %lld, \"V\": %lld, "
                      "\"variant\": \"%s\", \"us_per_call\": %.3f, \"rows_per_s\": %.1f, \"read_bytes\": %.0f, "
                      "\"written_bytes\": %.0f, \"read_GBps\": %.1f, \"total_GBps\": %.1f, "
                      "\"fraction_of_theoretical_peak\": %.4f, \"fraction_of_memcpy_peak\": %.4f, \"copies\": %d}",
                      dname(dt), static_cast<long long>(B), static_cast<long long>(V), var.name, us, B / (us * 1e-6),
                      read, written, rbw / 1e9, tbw / 1e9, frac, peak_copy > 0 ? tbw / peak_copy : 0.0, copies);
        jrec(buf);
        std::printf("B=%-3lld %-4s %-34s %9.2f us  read %7.1f GB/s  total %7.1f GB/s  %5.1f%% of peak\n",
                    static_cast<long long>(B), dname(dt), var.name, us, rbw / 1e9, tbw / 1e9, 100 * frac);
      }
      cudaFree(de);
      cudaFree(da);
    }
  }

  // ---- selection ----
  {
    std::vector<float> lp(static_cast<size_t>(256) * V);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(-12.f, 2.f);
    for (auto& x : lp) x = nd(rng);
    float* d_lp = nullptr;
    CU(cudaMalloc(&d_lp, lp.size() * 4));
    CU(cudaMemcpy(d_lp, lp.data(), lp.size() * 4, cudaMemcpyHostToDevice));
    float* d_cv = nullptr;
    int32_t* d_ci = nullptr;
    CU(cudaMalloc(&d_cv, 256 * 16 * 4));
    CU(cudaMalloc(&d_ci, 256 * 16 * 4));
    double* d_u = nullptr;  // uniforms in [0, 1), one per row (the runtime draws them on the host)
    {
      std::vector<double> hu(256);
      for (size_t r = 0; r < hu.size(); ++r) hu[r] = (static_cast<double>(r) + 0.5) / 256.0;
      CU(cudaMalloc(&d_u, hu.size() * sizeof(double)));
      CU(cudaMemcpy(d_u, hu.data(), hu.size() * sizeof(double), cudaMemcpyHostToDevice));
    }
    for (int64_t B : {1, 256}) {
      struct Sel {
        const char* name;
        ac_cuda_select_params sp;
      } sels[] = {
          {"argmax", {AC_CUDA_SELECT_ARGMAX, 0, 1.f, 1.0, nullptr, AC_CUDA_FLAG_ASYNC | AC_CUDA_FLAG_TRUST_POINTERS}},
          {"top-k 50", {AC_CUDA_SELECT_SAMPLE, 50, 1.f, 0.8, d_u, AC_CUDA_FLAG_ASYNC | AC_CUDA_FLAG_TRUST_POINTERS}},
          {"top-p 0.9", {AC_CUDA_SELECT_SAMPLE, 0, 0.9f, 0.8, d_u, AC_CUDA_FLAG_ASYNC | AC_CUDA_FLAG_TRUST_POINTERS}},
      };
      for (const Sel& sel : sels) {
        const double us = time_each(s, 20, quick ? 50 : 200, [&](int i) {
          (void)i;
          ac_cuda_select(s, d_lp, B, V, &sel.sp, d_am, nullptr);
        });
        char buf[256];
        std::snprintf(buf, sizeof buf, "{\"bench\": \"select\", \"method\": \"%s\", \"rows\": %lld, \"V\": %lld, \"median_us\": %.3f}",
                      sel.name, static_cast<long long>(B), static_cast<long long>(V), us);
        jrec(buf);
        std::printf("select %-10s B=%-3lld %9.2f us\n", sel.name, static_cast<long long>(B), us);
      }
      const double us = time_each(s, 20, quick ? 50 : 200, [&](int) {
        ac_cuda_beam_candidates(s, d_lp, B, V, 16, AC_CUDA_FLAG_ASYNC | AC_CUDA_FLAG_TRUST_POINTERS, d_cv, d_ci, nullptr);
      });
      char buf[256];
      std::snprintf(buf, sizeof buf, "{\"bench\": \"beam_candidates\", \"k\": 16, \"rows\": %lld, \"V\": %lld, \"median_us\": %.3f}",
                    static_cast<long long>(B), static_cast<long long>(V), us);
      jrec(buf);
      std::printf("beam top-16 B=%-3lld %9.2f us\n", static_cast<long long>(B), us);
    }
    cudaFree(d_lp);
    cudaFree(d_cv);
    cudaFree(d_u);
    cudaFree(d_ci);
  }

  ac_cuda_error_info err;
  const int rc = ac_cuda_check_error(s, &err);
  std::printf("error record after the run: %d (%s)\n", rc, rc ? ac_cuda_last_error_message() : "none");

  FILE* f = std::fopen(out_path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", out_path.c_str());
    return 1;
  }
  std::fprintf(f,
               "{\n  \"device\": \"%s\",\n  \"library\": \"%s\",\n  \"sms\": %d,\n  \"l2_bytes\": %d,\n"
               "  \"memory_clock_khz\": %d,\n  \"bus_width_bits\": %d,\n  \"peak_theoretical_GBps\": %.1f,\n"
               "  \"peak_memcpy_d2d_GBps\": %.1f,\n  \"summary\": {\"b1_contrast_argmax_us_best_dtype\": %.3f, "
               "\"b1_target_us\": 15, \"b256_best_fraction_of_peak\": %.4f, \"b256_target_fraction\": 0.70},\n"
               "  \"results\": [%s\n  ]\n}\n",
               prop.name, ac_cuda_version(), sms, l2, mem_clock_khz, bus_bits, peak_theory / 1e9, peak_copy / 1e9,
               best_b1, best_bw_frac, g_json.c_str());
  std::fclose(f);
  std::printf("wrote %s\n", out_path.c_str());
  cudaFree(d_out);
  cudaFree(d_am);
  cudaFree(d_hs);
  cudaFree(d_mass);
  ac_cuda_release();
  return 0;
}
