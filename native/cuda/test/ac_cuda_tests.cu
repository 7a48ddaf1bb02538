// ac_cuda_tests: every CUDA result checked against the CPU scalar path (ac::contrast_row with ac::scalar_ops()).
// Usage: ac_cuda_tests [--quick] [--verbose]
//   --quick: a reduced set (small shapes) for compute-sanitizer runs.
// Prints "SKIP: no CUDA device (...)" and exits 0 when there is no usable device; otherwise the last line is
// "N passed, M failed" and the exit status is nonzero if anything failed.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../../kernels/select.h"

#include "ac_cuda.h"
#include "contrast.h"
#include "half.h"

namespace {

int g_pass = 0, g_fail = 0;
bool g_verbose = false;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_pass;
    if (g_verbose) std::printf("ok   %s\n", what.c_str());
  } else {
    ++g_fail;
    std::printf("FAIL %s\n", what.c_str());
  }
}

#define CU(call)                                                                                   \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      std::printf("FAIL CUDA %s at %s:%d: %s\n", #call, __FILE__, __LINE__, cudaGetErrorString(e_)); \
      std::exit(2);                                                                                \
    }                                                                                              \
  } while (0)

template <typename T>
struct DevBuf {
  T* p = nullptr;
  size_t n = 0;
  explicit DevBuf(size_t count) : n(count) { CU(cudaMalloc(&p, std::max<size_t>(1, count) * sizeof(T))); }
  ~DevBuf() { cudaFree(p); }
  DevBuf(const DevBuf&) = delete;
  void up(const T* h) { CU(cudaMemcpy(p, h, n * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> down() const {
    std::vector<T> h(n);
    CU(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

const char* dname(int dt) { return dt == 0 ? "f32" : dt == 1 ? "f16" : "bf16"; }

// Logits stored as dtype bits (uint32 for f32 bit patterns, uint16 for f16/bf16).
struct Logits {
  int dt = 0;
  size_t rows = 0, V = 0;
  std::vector<uint8_t> bytes;
  size_t es() const { return dt == 0 ? 4 : 2; }
  void resize(int dtype, size_t r, size_t v) {
    dt = dtype;
    rows = r;
    V = v;
    bytes.assign(r * v * es(), 0);
  }
  void set(size_t i, float x) {
    if (dt == 0) std::memcpy(&bytes[i * 4], &x, 4);
    else {
      const uint16_t h = dt == 1 ? ac::float_to_f16(x) : ac::float_to_bf16(x);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  float get(size_t i) const {
    if (dt == 0) {
      float x;
      std::memcpy(&x, &bytes[i * 4], 4);
      return x;
    }
    uint16_t h;
    std::memcpy(&h, &bytes[i * 2], 2);
    return dt == 1 ? ac::f16_to_float(h) : ac::bf16_to_float(h);
  }
};

// Language-model-like rows: a Gaussian bulk, a few strong tokens, amateur correlated with the expert.
void make_pair(Logits& e, Logits& a, int dt, size_t rows, size_t V, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  e.resize(dt, rows, V);
  a.resize(dt, rows, V);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t v = 0; v < V; ++v) {
      const float ze = 2.5f * nd(rng);
      e.set(r * V + v, ze);
      a.set(r * V + v, 0.6f * ze + 1.5f * nd(rng) - 3.f);
    }
    const int spikes = 1 + static_cast<int>(rng() % 12);
    for (int s = 0; s < spikes; ++s) {
      const size_t v = rng() % V;
      e.set(r * V + v, 12.f + 3.f * nd(rng));
      a.set(r * V + v, 10.f + 4.f * nd(rng));
    }
  }
}

ac::Params to_cpu(const ac_cuda_params& p) {
  ac::Params q;
  q.mode = p.mode == AC_CUDA_MODE_CD ? ac::Mode::CD : ac::Mode::ACD;
  q.alpha = p.alpha;
  q.min_candidates = p.min_candidates;
  q.has_beta = p.has_beta != 0;
  q.beta = p.beta;
  return q;
}

ac_cuda_params params(int mode = AC_CUDA_MODE_ACD, float alpha = 0.1f, int k = 1, bool has_beta = false,
                      float beta = 0.5f) {
  ac_cuda_params p{};
  p.mode = mode;
  p.alpha = alpha;
  p.min_candidates = k;
  p.has_beta = has_beta ? 1 : 0;
  p.beta = beta;
  p.flags = 0;
  return p;
}

struct CpuResult {
  std::vector<float> out;
  std::vector<ac::RowStats> stats;
  std::vector<int> err_kind;  // per row: 0 ok, 1 expert, 2 amateur
  std::vector<size_t> err_index;
};

struct SparseHost {
  std::vector<uint8_t> w, b;  // dtype bits
  int wdt = 0;
  size_t d = 0;
  std::vector<float> hidden;  // rows x d
  bool has_bias = false;
};

float load_bits(const std::vector<uint8_t>& b, int dt, size_t i) {
  if (dt == 0) {
    float x;
    std::memcpy(&x, &b[i * 4], 4);
    return x;
  }
  uint16_t h;
  std::memcpy(&h, &b[i * 2], 2);
  return dt == 1 ? ac::f16_to_float(h) : ac::bf16_to_float(h);
}

// Row by row so that every row's error (not only the first) is known.
CpuResult cpu_contrast(const Logits& e, const Logits* a, const SparseHost* sp, const ac_cuda_params& p) {
  CpuResult r;
  r.out.assign(e.rows * e.V, 0.f);
  r.stats.assign(e.rows, {});
  r.err_kind.assign(e.rows, 0);
  r.err_index.assign(e.rows, 0);
  ac::Scratch scratch;
  const ac::DType dt = static_cast<ac::DType>(e.dt);
  for (size_t row = 0; row < e.rows; ++row) {
    ac::SparseAmateur s;
    if (sp) {
      s.weight = sp->w.data();
      s.weight_dtype = static_cast<ac::DType>(sp->wdt);
      s.bias = sp->has_bias ? sp->b.data() : nullptr;
      s.hidden = sp->hidden.data() + row * sp->d;
      s.d = sp->d;
    }
    try {
      r.stats[row] = ac::contrast_row(ac::scalar_ops(), e.bytes.data() + row * e.V * e.es(),
                                      a ? a->bytes.data() + row * e.V * e.es() : nullptr, sp ? &s : nullptr, dt, e.V,
                                      to_cpu(p), r.out.data() + row * e.V, scratch);
    } catch (const ac::KernelError& k) {
      r.err_kind[row] = k.code == ac::KernelError::kNonFiniteExpert ? 1 : 2;
      r.err_index[row] = k.index;
    }
  }
  return r;
}

struct GpuResult {
  int rc = 0;
  ac_cuda_error_info err{};
  std::vector<float> out;
  std::vector<int32_t> head_size, argmax;
  std::vector<float> head_mass;
};

GpuResult gpu_contrast(const Logits& e, const Logits* a, const SparseHost* sp, const ac_cuda_params& p,
                       bool want_out = true, cudaStream_t stream = nullptr) {
  GpuResult g;
  const size_t n = e.rows * e.V;
  DevBuf<uint8_t> de(e.bytes.size()), da(a ? a->bytes.size() : 0);
  de.up(e.bytes.data());
  if (a) da.up(a->bytes.data());
  DevBuf<float> dout(want_out ? n : 0), dmass(e.rows);
  DevBuf<int32_t> dhs(e.rows), dam(e.rows);
  if (sp) {
    DevBuf<uint8_t> dw(sp->w.size()), db(sp->b.size());
    DevBuf<float> dh(sp->hidden.size());
    dw.up(sp->w.data());
    if (sp->has_bias) db.up(sp->b.data());
    dh.up(sp->hidden.data());
    ac_cuda_sparse_amateur s{dh.p, static_cast<int64_t>(sp->d), sp->wdt, dw.p, sp->has_bias ? db.p : nullptr};
    g.rc = ac_cuda_contrast_sparse(stream, e.dt, de.p, &s, static_cast<int64_t>(e.rows), static_cast<int64_t>(e.V),
                                   &p, want_out ? dout.p : nullptr, dhs.p, dmass.p, dam.p, &g.err);
  } else {
    g.rc = ac_cuda_contrast(stream, e.dt, de.p, da.p, static_cast<int64_t>(e.rows), static_cast<int64_t>(e.V), &p,
                            want_out ? dout.p : nullptr, dhs.p, dmass.p, dam.p, &g.err);
  }
  if (p.flags & AC_CUDA_FLAG_ASYNC) ac_cuda_check_error(stream, &g.err), g.rc = g.err.status;
  CU(cudaDeviceSynchronize());
  if (want_out) g.out = dout.down();
  g.head_size = dhs.down();
  g.head_mass = dmass.down();
  g.argmax = dam.down();
  return g;
}

bool close(float g, float c, float abs_tol = 2e-4f, float rel_tol = 2e-5f) {
  if (std::isinf(c) || std::isinf(g)) return g == c;
  if (std::isnan(c) || std::isnan(g)) return std::isnan(c) && std::isnan(g);
  return std::fabs(g - c) <= abs_tol + rel_tol * std::fabs(c);
}

// Compares a GPU contrast against the CPU reference; rows with CPU errors must be flagged on the GPU.
void compare(const std::string& name, const CpuResult& c, const GpuResult& g, size_t rows, size_t V, bool with_out) {
  int expect_rc = AC_CUDA_OK;
  int64_t erow = -1, eidx = -1;
  for (size_t r = 0; r < rows; ++r)
    if (c.err_kind[r]) {
      expect_rc = c.err_kind[r] == 1 ? AC_CUDA_ERR_NONFINITE_EXPERT : AC_CUDA_ERR_NONFINITE_AMATEUR;
      erow = static_cast<int64_t>(r);
      eidx = static_cast<int64_t>(c.err_index[r]);
      break;
    }
  {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: status %d (want %d) row %lld (want %lld) index %lld (want %lld) %s", name.c_str(),
                  g.rc, expect_rc, static_cast<long long>(g.err.row), static_cast<long long>(erow),
                  static_cast<long long>(g.err.index), static_cast<long long>(eidx),
                  g.rc ? ac_cuda_last_error_message() : "");
    check(g.rc == expect_rc && (expect_rc == 0 || (g.err.row == erow && g.err.index == eidx)), buf);
  }
  size_t bad_hs = 0, bad_mass = 0, bad_out = 0, bad_am = 0, first_bad = SIZE_MAX;
  float worst = 0.f;
  for (size_t r = 0; r < rows; ++r) {
    if (c.err_kind[r]) {
      if (g.head_size[r] != -c.err_kind[r] || g.argmax[r] != -1 || !std::isnan(g.head_mass[r])) ++bad_hs;
      if (with_out)
        for (size_t v = 0; v < V; ++v)
          if (!std::isnan(g.out[r * V + v])) {
            ++bad_out;
            break;
          }
      continue;
    }
    if (g.head_size[r] != c.stats[r].head_size) ++bad_hs;
    if (!close(g.head_mass[r], c.stats[r].head_mass, 1e-6f, 1e-5f)) ++bad_mass;
    const float* co = c.out.data() + r * V;
    float cmax = -std::numeric_limits<float>::infinity();
    for (size_t v = 0; v < V; ++v) cmax = std::max(cmax, co[v]);
    const int am = g.argmax[r];
    if (am < 0 || static_cast<size_t>(am) >= V || co[am] < cmax - 1e-4f) ++bad_am;
    if (with_out) {
      const float* go = g.out.data() + r * V;
      for (size_t v = 0; v < V; ++v)
        if (!close(go[v], co[v])) {
          if (first_bad == SIZE_MAX) first_bad = r * V + v;
          ++bad_out;
          if (std::isfinite(go[v]) && std::isfinite(co[v])) worst = std::max(worst, std::fabs(go[v] - co[v]));
        }
    }
  }
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s: head_size mismatches %zu, head_mass %zu, argmax %zu, log-probs %zu (worst %g%s)",
                name.c_str(), bad_hs, bad_mass, bad_am, bad_out, static_cast<double>(worst),
                first_bad == SIZE_MAX ? "" : (", first at " + std::to_string(first_bad / V) + ":" +
                                              std::to_string(first_bad % V) + " gpu " +
                                              std::to_string(g.out[first_bad]) + " cpu " +
                                              std::to_string(c.out[first_bad])).c_str());
  check(bad_hs == 0 && bad_mass == 0 && bad_am == 0 && bad_out == 0, buf);
}

void run_dense(const std::string& name, const Logits& e, const Logits& a, const ac_cuda_params& p, bool with_out = true) {
  const CpuResult c = cpu_contrast(e, &a, nullptr, p);
  const GpuResult g = gpu_contrast(e, &a, nullptr, p, with_out);
  compare(name, c, g, e.rows, e.V, with_out);
}

std::string tag(const char* what, int dt, size_t V, size_t rows) {
  return std::string(what) + " " + dname(dt) + " V=" + std::to_string(V) + " rows=" + std::to_string(rows);
}

// ---- test groups ----

void test_shapes(bool quick) {
  const std::vector<size_t> Vs = quick ? std::vector<size_t>{1000, 50257} : std::vector<size_t>{50257, 49152, 1000};
  const std::vector<size_t> Bs = quick ? std::vector<size_t>{1, 8} : std::vector<size_t>{1, 8, 64, 256};
  for (int dt = 0; dt < 3; ++dt)
    for (size_t V : Vs)
      for (size_t B : Bs) {
        Logits e, a;
        make_pair(e, a, dt, B, V, static_cast<uint32_t>(dt * 1000 + V + B));
        run_dense(tag("acd", dt, V, B), e, a, params());
        if (!quick && B <= 8) run_dense(tag("cd beta", dt, V, B), e, a, params(AC_CUDA_MODE_CD, 0.1f, 1, true, 0.5f));
      }
}

void test_launch_shapes(bool quick) {
  // The same rows with forced blocks-per-row: the single-block path, and odd splits.
  const size_t V = 50257;
  for (size_t B : {size_t(1), size_t(8), size_t(64)}) {
    Logits e, a;
    make_pair(e, a, 2, B, V, 77 + static_cast<uint32_t>(B));
    for (int bpr : {1, 3, 16}) {
      if (quick && bpr == 16) continue;
      ac_cuda_set_tuning(AC_CUDA_TUNE_BLOCKS_PER_ROW, bpr);
      run_dense(tag(("bpr=" + std::to_string(bpr)).c_str(), 2, V, B), e, a, params());
      run_dense(tag(("bpr=" + std::to_string(bpr) + " alpha=0").c_str(), 2, V, B), e, a, params(0, 0.f));
      run_dense(tag(("bpr=" + std::to_string(bpr) + " k=300").c_str(), 2, V, B), e, a, params(0, 1.f, 300));
    }
    ac_cuda_set_tuning(AC_CUDA_TUNE_BLOCKS_PER_ROW, 0);
    if (quick) break;
  }
}

void test_edges(bool quick) {
  const std::vector<size_t> Vs = quick ? std::vector<size_t>{1000} : std::vector<size_t>{1000, 50257};
  for (int dt = 0; dt < 3; ++dt)
    for (size_t V : Vs) {
      const size_t B = 8;
      Logits e, a;
      make_pair(e, a, dt, B, V, 4242 + dt);
      run_dense(tag("alpha=0", dt, V, B), e, a, params(AC_CUDA_MODE_ACD, 0.f));
      run_dense(tag("alpha=1", dt, V, B), e, a, params(AC_CUDA_MODE_ACD, 1.f));
      run_dense(tag("cd alpha=0", dt, V, B), e, a, params(AC_CUDA_MODE_CD, 0.f));
      run_dense(tag("min_candidates=50 > head", dt, V, B), e, a, params(AC_CUDA_MODE_ACD, 0.5f, 50));
      run_dense(tag("min_candidates=V", dt, V, B), e, a, params(AC_CUDA_MODE_ACD, 1.f, static_cast<int>(V)));
      run_dense(tag("cd beta min_candidates=5", dt, V, B), e, a, params(AC_CUDA_MODE_CD, 0.3f, 5, true, 1.0f));
      run_dense(tag("acd no out (argmax only)", dt, V, B), e, a, params(), false);
      run_dense(tag("acd alpha=0 no out", dt, V, B), e, a, params(AC_CUDA_MODE_ACD, 0.f), false);
      {
        ac_cuda_params p = params();
        p.flags = AC_CUDA_FLAG_ASYNC;
        run_dense(tag("acd async", dt, V, B), e, a, p);
      }

      // Ties: several tokens tied at the max, tokens exactly at the threshold, ties at the k-th value.
      Logits t = e;
      for (size_t r = 0; r < B; ++r) {
        float m = -1e30f;
        for (size_t v = 0; v < V; ++v) m = std::max(m, t.get(r * V + v));
        for (size_t j = 0; j < 4; ++j) t.set(r * V + (j * 97 + r) % V, m);
        m = t.get(r * V + (r % V));
        const float thr = m + std::log(0.1f);
        for (size_t j = 0; j < 6; ++j) t.set(r * V + (j * 131 + 7 + r) % V, thr);
        for (size_t j = 0; j < 10; ++j) t.set(r * V + (j * 211 + 3) % V, m - 5.f);
      }
      run_dense(tag("ties at max and threshold", dt, V, B), t, a, params());
      run_dense(tag("ties at k-th (k=8)", dt, V, B), t, a, params(AC_CUDA_MODE_ACD, 1.f, 8));
      run_dense(tag("ties alpha=1", dt, V, B), t, a, params(AC_CUDA_MODE_ACD, 1.f));
      {  // identical expert and amateur: uniform over the head
        run_dense(tag("identical amateur", dt, V, B), e, e, params());
      }
      {  // constant row: every token tied
        Logits cst = e;
        for (size_t i = 0; i < B * V; ++i) cst.set(i, 1.5f);
        run_dense(tag("constant row", dt, V, B), cst, a, params());
        run_dense(tag("constant row k=3", dt, V, B), cst, a, params(AC_CUDA_MODE_ACD, 1.f, 3));
      }
      // Non-finite logits: rejected with the right row and index; other rows still correct.
      {
        const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
        Logits bad = e;
        bad.set(3 * V + 777 % V, nan);
        bad.set(3 * V + 900 % V, inf);
        bad.set(5 * V + 0, -inf);
        bad.set(6 * V + V - 1, inf);
        run_dense(tag("non-finite expert", dt, V, B), bad, a, params());
        Logits bada = a;
        bada.set(2 * V + 555 % V, nan);
        bada.set(7 * V + 1, -inf);
        run_dense(tag("non-finite amateur + expert", dt, V, B), bad, bada, params());
        run_dense(tag("non-finite amateur", dt, V, B), e, bada, params());
        // Head-only amateur check: a NaN outside the head passes, one inside is caught.
        ac_cuda_params p = params(AC_CUDA_MODE_ACD, 1.f);
        p.flags = AC_CUDA_FLAG_SKIP_AMATEUR_SCAN;
        const GpuResult g = gpu_contrast(e, &bada, nullptr, p);
        size_t am2 = static_cast<size_t>(g.argmax[2]);
        check(g.rc == AC_CUDA_OK || (g.err.row == 2 && static_cast<size_t>(g.err.index) == am2),
              tag("skip amateur scan: outside-head NaN ignored", dt, V, B));
        Logits badh = a;
        size_t top = 0;
        for (size_t v = 1; v < V; ++v)
          if (e.get(4 * V + v) > e.get(4 * V + top)) top = v;
        badh.set(4 * V + top, nan);
        const GpuResult g2 = gpu_contrast(e, &badh, nullptr, p);
        check(g2.rc == AC_CUDA_ERR_NONFINITE_AMATEUR && g2.err.row == 4 && static_cast<size_t>(g2.err.index) == top &&
                  g2.head_size[4] == -2,
              tag("skip amateur scan: head NaN caught", dt, V, B));
      }
      {  // batch 1 (split path) with a NaN
        Logits one, onea;
        make_pair(one, onea, dt, 1, V, 99);
        one.set(V / 2, std::numeric_limits<float>::quiet_NaN());
        run_dense(tag("non-finite expert batch 1", dt, V, 1), one, onea, params());
      }
    }
}

void test_sparse(bool quick) {
  const std::vector<size_t> Vs = quick ? std::vector<size_t>{1000} : std::vector<size_t>{1000, 50257};
  for (int dt = 0; dt < 3; ++dt)
    for (int wdt = 0; wdt < 3; ++wdt)
      for (size_t V : Vs) {
        if (quick && wdt != dt) continue;
        const size_t B = quick ? 2 : 8, d = 96;
        Logits e, a;
        make_pair(e, a, dt, B, V, 555 + dt * 3 + wdt);
        SparseHost sp;
        sp.wdt = wdt;
        sp.d = d;
        sp.has_bias = wdt != 1;
        const size_t ws = wdt == 0 ? 4 : 2;
        sp.w.assign(V * d * ws, 0);
        sp.b.assign(V * ws, 0);
        std::mt19937 rng(11 + dt);
        std::normal_distribution<float> nd(0.f, 0.3f);
        Logits tmp;
        tmp.resize(wdt, 1, V * d);
        for (size_t i = 0; i < V * d; ++i) tmp.set(i, nd(rng));
        sp.w = tmp.bytes;
        Logits tb;
        tb.resize(wdt, 1, V);
        for (size_t i = 0; i < V; ++i) tb.set(i, nd(rng));
        sp.b = tb.bytes;
        sp.hidden.resize(B * d);
        for (auto& h : sp.hidden) h = 3.f * nd(rng);
        const std::string nm = std::string("sparse ") + dname(dt) + " w=" + dname(wdt) + " V=" + std::to_string(V);
        for (float alpha : {0.1f, 1.f, 0.f}) {
          if (quick && alpha == 0.f && V > 1000) continue;
          const ac_cuda_params p = params(AC_CUDA_MODE_ACD, alpha, alpha == 1.f ? 20 : 1);
          const CpuResult c = cpu_contrast(e, nullptr, &sp, p);
          const GpuResult g = gpu_contrast(e, nullptr, &sp, p);
          compare(nm + " alpha=" + std::to_string(alpha), c, g, B, V, true);
        }
        if (dt == 0 && wdt == 0) {
          // sparse == dense with the amateur row materialised (float rounding only)
          Logits dense;
          dense.resize(0, B, V);
          for (size_t r = 0; r < B; ++r)
            for (size_t v = 0; v < V; ++v) {
              double s = 0;
              for (size_t k = 0; k < d; ++k) s += static_cast<double>(load_bits(sp.w, 0, v * d + k)) * sp.hidden[r * d + k];
              dense.set(r * V + v, static_cast<float>(s) + load_bits(sp.b, 0, v));
            }
          const GpuResult gd = gpu_contrast(e, &dense, nullptr, params());
          const GpuResult gs = gpu_contrast(e, nullptr, &sp, params());
          size_t bad = 0;
          for (size_t i = 0; i < B * V; ++i)
            if (!close(gd.out[i], gs.out[i], 1e-3f, 1e-4f)) ++bad;
          check(bad == 0 && gd.head_size == gs.head_size, nm + " sparse vs dense (gpu): mismatches " + std::to_string(bad));
        }
        {  // NaN in the hidden state: the first head token's amateur logit is non-finite
          SparseHost bad = sp;
          bad.hidden[1 * d + 5] = std::numeric_limits<float>::quiet_NaN();
          const ac_cuda_params p = params();
          compare(nm + " NaN hidden", cpu_contrast(e, nullptr, &bad, p), gpu_contrast(e, nullptr, &bad, p), B, V, true);
        }
      }
}

// ---- selection ----
std::vector<float> reference_rows(size_t rows, size_t V, uint32_t seed) {
  Logits e, a;
  make_pair(e, a, 0, rows, V, seed);
  return cpu_contrast(e, &a, nullptr, params()).out;
}

// Sampling parameters with one uniform per row from the project's generator (ac::SeededRandom, stream = row),
// as the runtime draws them on the host.
struct SampleSetup {
  ac_cuda_select_params sp{};
  std::vector<double> u;
  DevBuf<double> du;
  SampleSetup(size_t rows, int top_k, float top_p, double temperature, int64_t seed) : u(rows), du(rows) {
    for (size_t r = 0; r < rows; ++r) u[r] = ac::SeededRandom::make(seed, static_cast<uint32_t>(r)).next();
    du.up(u.data());
    sp.method = AC_CUDA_SELECT_SAMPLE;
    sp.top_k = top_k;
    sp.top_p = top_p;
    sp.temperature = temperature;
    sp.uniforms = du.p;
  }
};

// The CPU chain's draw on one row after top-k (ties kept) and temperature: what the device must return.
int64_t host_topk_draw(const float* x, size_t V, int k, double temperature, double u) {
  std::vector<float> s(x, x + V), tmp(x, x + V);
  if (k > 0 && static_cast<size_t>(k) < V) {
    std::nth_element(tmp.begin(), tmp.begin() + (V - k), tmp.end());
    const float kth = tmp[V - k];
    for (auto& v : s)
      if (v < kth) v = -INFINITY;
  }
  for (auto& v : s)
    if (v != -INFINITY) v = static_cast<float>(static_cast<double>(v) / temperature);
  return ac::draw_index(s.data(), static_cast<int64_t>(V), u);
}

int select_gpu(const std::vector<float>& lp, size_t rows, size_t V, const ac_cuda_select_params& sp,
               std::vector<int32_t>* tokens, ac_cuda_error_info* err) {
  DevBuf<float> d(lp.size());
  d.up(lp.data());
  DevBuf<int32_t> t(rows);
  const int rc = ac_cuda_select(nullptr, d.p, static_cast<int64_t>(rows), static_cast<int64_t>(V), &sp, t.p, err);
  *tokens = t.down();
  return rc;
}

void test_select(bool quick) {
  const std::vector<size_t> Vs = quick ? std::vector<size_t>{1000} : std::vector<size_t>{1000, 50257, 49152};
  for (size_t V : Vs) {
    const size_t B = quick ? 8 : 64;
    const std::vector<float> lp = reference_rows(B, V, 31 + static_cast<uint32_t>(V));
    ac_cuda_error_info err;
    std::vector<int32_t> tok;
    ac_cuda_select_params sp{};
    sp.method = AC_CUDA_SELECT_ARGMAX;
    int rc = select_gpu(lp, B, V, sp, &tok, &err);
    size_t bad = 0;
    for (size_t r = 0; r < B; ++r) {
      const float* x = lp.data() + r * V;
      const size_t want = static_cast<size_t>(std::max_element(x, x + V) - x);
      if (tok[r] != static_cast<int32_t>(want)) ++bad;
    }
    check(rc == 0 && bad == 0, "select argmax V=" + std::to_string(V) + " mismatches " + std::to_string(bad));

    for (int k : {1, 5, 40}) {
      for (float temp : {1.f, 0.7f}) {
        SampleSetup ss(B, k, 1.f, temp, 1234);
        std::vector<int32_t> t1, t2, t3;
        rc = select_gpu(lp, B, V, ss.sp, &t1, &err);
        select_gpu(lp, B, V, ss.sp, &t2, &err);
        bad = 0;
        size_t differ = 0;
        for (size_t r = 0; r < B; ++r) {
          const float* x = lp.data() + r * V;
          std::vector<float> s(x, x + V);
          std::nth_element(s.begin(), s.begin() + (k - 1), s.end(), std::greater<float>());
          if (t1[r] < 0 || x[t1[r]] < s[k - 1]) ++bad;
          // the same token as the CPU chain's draw rule on the same uniform
          if (t1[r] != host_topk_draw(x, V, k, temp, ss.u[r])) ++differ;
        }
        check(rc == 0 && bad == 0 && differ == 0 && t1 == t2,
              "top-k sample k=" + std::to_string(k) + " T=" + std::to_string(temp) + " V=" + std::to_string(V) +
                  ": outside top-k " + std::to_string(bad) + ", unlike the host draw " + std::to_string(differ) +
                  (t1 == t2 ? "" : ", not reproducible"));
      }
    }
    for (float p : {0.5f, 0.9f, 0.999f}) {
      for (float temp : {1.f, 0.7f}) {
        SampleSetup ss(B, 0, p, temp, 99);
        std::vector<int32_t> t1, t2;
        rc = select_gpu(lp, B, V, ss.sp, &t1, &err);
        select_gpu(lp, B, V, ss.sp, &t2, &err);
        bad = 0;
        for (size_t r = 0; r < B; ++r) {
          const float* x = lp.data() + r * V;
          // tempered probabilities; mass strictly above the chosen token must be below p
          double m = -1e300, z = 0;
          for (size_t v = 0; v < V; ++v) m = std::max(m, static_cast<double>(x[v]) / temp);
          for (size_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(x[v]) / temp - m);
          if (t1[r] < 0) {
            ++bad;
            continue;
          }
          const float xv = x[t1[r]];
          double above = 0;
          for (size_t v = 0; v < V; ++v)
            if (x[v] > xv) above += std::exp(static_cast<double>(x[v]) / temp - m) / z;
          if (above >= p + 1e-5) ++bad;
        }
        check(rc == 0 && bad == 0 && t1 == t2,
              "top-p sample p=" + std::to_string(p) + " T=" + std::to_string(temp) + " V=" + std::to_string(V) +
                  ": outside nucleus " + std::to_string(bad) + (t1 == t2 ? "" : ", not reproducible"));
      }
    }
    {  // top-k and top-p together, and other uniforms (another seed) change the draws
      SampleSetup s1(B, 20, 0.8f, 1.0, 5), s2(B, 20, 0.8f, 1.0, 6);
      std::vector<int32_t> t1, t2;
      select_gpu(lp, B, V, s1.sp, &t1, &err);
      select_gpu(lp, B, V, s2.sp, &t2, &err);
      check(B < 8 || t1 != t2 || V == 0, "the uniforms change the draws V=" + std::to_string(V));
    }
  }
  {  // distribution: many copies of one row, frequencies match the top-k renormalised probabilities
    const size_t V = 1000, B = quick ? 512 : 4096;
    std::vector<float> row(V);
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto& x : row) x = 0.3f * nd(rng) - 2.f;
    row[10] = 3.f;
    row[20] = 2.5f;
    row[30] = 2.f;
    row[40] = 1.5f;
    std::vector<float> lp(B * V);
    for (size_t r = 0; r < B; ++r) std::copy(row.begin(), row.end(), lp.begin() + r * V);
    SampleSetup ss(B, 4, 1.f, 1.0, 2024);
    std::vector<int32_t> t;
    ac_cuda_error_info err;
    select_gpu(lp, B, V, ss.sp, &t, &err);
    const int ids[4] = {10, 20, 30, 40};
    double z = 0;
    for (int id : ids) z += std::exp(static_cast<double>(row[id]));
    bool ok = true;
    std::string detail;
    for (int id : ids) {
      const double pexp = std::exp(static_cast<double>(row[id])) / z;
      const double cnt = static_cast<double>(std::count(t.begin(), t.end(), id));
      const double sd = std::sqrt(B * pexp * (1 - pexp));
      if (std::fabs(cnt - B * pexp) > 5 * sd + 1) ok = false;
      detail += " " + std::to_string(id) + ":" + std::to_string(static_cast<int>(cnt)) + "/" +
                std::to_string(static_cast<int>(B * pexp));
    }
    for (int32_t x : t)
      if (x != 10 && x != 20 && x != 30 && x != 40) ok = false;
    check(ok, "top-k sampling frequencies" + detail);
  }
  {  // NaN in log-probs rejected; -inf allowed (CD rows)
    const size_t V = 1000, B = 4;
    std::vector<float> lp = reference_rows(B, V, 8);
    lp[1 * V + 17] = -std::numeric_limits<float>::infinity();
    SampleSetup ss(B, 0, 0.9f, 1.0, 1);
    ac_cuda_select_params& sp = ss.sp;
    std::vector<int32_t> t;
    ac_cuda_error_info err;
    int rc = select_gpu(lp, B, V, sp, &t, &err);
    check(rc == 0, "select accepts -inf");
    lp[2 * V + 33] = std::numeric_limits<float>::quiet_NaN();
    rc = select_gpu(lp, B, V, sp, &t, &err);
    check(rc == AC_CUDA_ERR_NONFINITE_INPUT && err.row == 2 && err.index == 33 && t[2] == -1,
          "select rejects NaN with row and index");
  }
}

void test_beam(bool quick) {
  for (size_t V : {size_t(1000), size_t(50257)}) {
    if (quick && V > 1000) continue;
    const size_t B = 8;
    std::vector<float> lp = reference_rows(B, V, 71 + static_cast<uint32_t>(V));
    for (size_t j = 0; j < 40; ++j) lp[3 * V + j * 7] = lp[3 * V + 5];  // ties
    for (size_t v = 0; v < V; ++v) lp[6 * V + v] = -2.f;                // all tied
    for (int k : {1, 8, 64, 1000}) {
      if (static_cast<size_t>(k) > V) continue;
      DevBuf<float> d(lp.size()), dv(B * k);
      DevBuf<int32_t> di(B * k);
      d.up(lp.data());
      ac_cuda_error_info err;
      const int rc = ac_cuda_beam_candidates(nullptr, d.p, B, V, k, 0, dv.p, di.p, &err);
      const auto gv = dv.down();
      const auto gi = di.down();
      size_t bad = 0;
      for (size_t r = 0; r < B; ++r) {
        std::vector<int> ord(V);
        std::iota(ord.begin(), ord.end(), 0);
        const float* x = lp.data() + r * V;
        std::partial_sort(ord.begin(), ord.begin() + k, ord.end(),
                          [&](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
        for (int j = 0; j < k; ++j)
          if (gi[r * k + j] != ord[j] || gv[r * k + j] != x[ord[j]]) ++bad;
      }
      check(rc == 0 && bad == 0, "beam top-" + std::to_string(k) + " V=" + std::to_string(V) + " mismatches " +
                                     std::to_string(bad));
    }
  }
}

void test_host_api_and_validation() {
  const size_t V = 1000, B = 4;
  Logits e, a;
  make_pair(e, a, 1, B, V, 5);
  const ac_cuda_params p = params();
  const GpuResult g = gpu_contrast(e, &a, nullptr, p);
  std::vector<float> out(B * V), mass(B);
  std::vector<int32_t> hs(B), am(B);
  ac_cuda_error_info err;
  int rc = ac_cuda_contrast_host(0, 1, e.bytes.data(), a.bytes.data(), B, V, &p, out.data(), hs.data(), mass.data(),
                                 am.data(), &err);
  check(rc == 0 && out == g.out && hs == g.head_size && am == g.argmax, "host API equals device API");
  std::vector<int32_t> tok(B);
  ac_cuda_select_params sp{};
  sp.method = AC_CUDA_SELECT_ARGMAX;
  rc = ac_cuda_select_host(0, out.data(), B, V, &sp, tok.data(), &err);
  check(rc == 0 && tok == am, "select_host argmax equals fused argmax");
  std::vector<float> cv(B * 4);
  std::vector<int32_t> ci(B * 4);
  rc = ac_cuda_beam_candidates_host(0, out.data(), B, V, 4, cv.data(), ci.data(), &err);
  bool first = rc == 0;
  for (size_t r = 0; r < B; ++r) first = first && ci[r * 4] == am[r];
  check(first, "beam_host first candidate equals argmax");
  {
    Logits bad = e;
    bad.set(2 * V + 9, std::numeric_limits<float>::infinity());
    rc = ac_cuda_contrast_host(0, 1, bad.bytes.data(), a.bytes.data(), B, V, &p, out.data(), hs.data(), mass.data(),
                               am.data(), &err);
    check(rc == AC_CUDA_ERR_NONFINITE_EXPERT && err.row == 2 && err.index == 9 && hs[2] == -1,
          std::string("host API reports non-finite expert: ") + ac_cuda_last_error_message());
  }
  rc = ac_cuda_contrast_host(7, 1, e.bytes.data(), a.bytes.data(), B, V, &p, out.data(), nullptr, nullptr, nullptr, &err);
  check(rc == AC_CUDA_ERR_NO_DEVICE || ac_cuda_device_count() > 7, "host API: bad device index");

  // validation of the device API
  DevBuf<uint8_t> de(e.bytes.size()), da(a.bytes.size());
  de.up(e.bytes.data());
  da.up(a.bytes.data());
  DevBuf<float> dout(B * V);
  auto call = [&](const ac_cuda_params& q, const void* ex, const void* amt, int64_t rows, int64_t vocab, int dt) {
    return ac_cuda_contrast(nullptr, dt, ex, amt, rows, vocab, &q, dout.p, nullptr, nullptr, nullptr, &err);
  };
  check(call(p, nullptr, da.p, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "null expert rejected");
  check(call(p, de.p, nullptr, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "null amateur rejected");
  check(call(p, de.p, da.p, 0, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "rows 0 rejected");
  check(call(p, de.p, da.p, B, 0, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "vocab 0 rejected");
  check(call(p, de.p, da.p, B, V, 5) == AC_CUDA_ERR_INVALID_ARGUMENT, "bad dtype rejected");
  check(call(params(0, 1.5f), de.p, da.p, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "alpha > 1 rejected");
  check(call(params(0, std::nanf("")), de.p, da.p, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "alpha NaN rejected");
  check(call(params(0, 0.1f, 0), de.p, da.p, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "min_candidates 0 rejected");
  check(call(params(0, 0.1f, static_cast<int>(V) + 1), de.p, da.p, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT,
        "min_candidates > V rejected");
  check(call(params(7), de.p, da.p, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "bad mode rejected");
  check(call(p, e.bytes.data(), da.p, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT,
        std::string("host pointer rejected: ") + ac_cuda_last_error_message());
  check(call(p, de.p + 1, da.p, B, V, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "misaligned pointer rejected");
  check(ac_cuda_contrast(nullptr, 1, de.p, da.p, B, V, nullptr, dout.p, nullptr, nullptr, nullptr, &err) ==
            AC_CUDA_ERR_INVALID_ARGUMENT,
        "null params rejected");
  check(ac_cuda_contrast_sparse(nullptr, 1, de.p, nullptr, B, V, &p, dout.p, nullptr, nullptr, nullptr, &err) ==
            AC_CUDA_ERR_INVALID_ARGUMENT,
        "null sparse rejected");
  DevBuf<int32_t> dt(B);
  ac_cuda_select_params sp2{AC_CUDA_SELECT_SAMPLE, static_cast<int>(V) + 1, 1.f, 1.0, nullptr, 0};
  check(ac_cuda_select(nullptr, dout.p, B, V, &sp2, dt.p, &err) == AC_CUDA_ERR_INVALID_ARGUMENT, "top_k > V rejected");
  sp2 = ac_cuda_select_params{AC_CUDA_SELECT_SAMPLE, 0, 0.f, 1.0, nullptr, 0};
  check(ac_cuda_select(nullptr, dout.p, B, V, &sp2, dt.p, &err) == AC_CUDA_ERR_INVALID_ARGUMENT, "top_p 0 rejected");
  sp2 = ac_cuda_select_params{AC_CUDA_SELECT_SAMPLE, 0, 1.f, 0.0, nullptr, 0};
  check(ac_cuda_select(nullptr, dout.p, B, V, &sp2, dt.p, &err) == AC_CUDA_ERR_INVALID_ARGUMENT,
        "temperature 0 rejected");
  DevBuf<float> cv2(B * 2000);
  DevBuf<int32_t> ci2(B * 2000);
  check(ac_cuda_beam_candidates(nullptr, dout.p, B, V, 0, 0, cv2.p, ci2.p, &err) == AC_CUDA_ERR_INVALID_ARGUMENT,
        "beam k 0 rejected");
  check(ac_cuda_beam_candidates(nullptr, dout.p, B, V, 1025, 0, cv2.p, ci2.p, &err) == AC_CUDA_ERR_INVALID_ARGUMENT,
        "beam k > 1024 rejected");
  check(ac_cuda_set_tuning(99, 1) == AC_CUDA_ERR_INVALID_ARGUMENT, "unknown tuning key rejected");
}

void test_streams() {
  // Two streams, interleaved async work, each with its own workspace.
  const size_t V = 50257, B = 4;
  Logits e, a;
  make_pair(e, a, 0, B, V, 12);
  cudaStream_t s1, s2;
  CU(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CU(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  ac_cuda_params p = params();
  p.flags = AC_CUDA_FLAG_ASYNC;
  const CpuResult c = cpu_contrast(e, &a, nullptr, params());
  const GpuResult g1 = gpu_contrast(e, &a, nullptr, p, true, s1);
  const GpuResult g2 = gpu_contrast(e, &a, nullptr, p, true, s2);
  compare("stream 1", c, g1, B, V, true);
  compare("stream 2", c, g2, B, V, true);
  check(g1.out == g2.out, "streams give identical results");
  cudaStreamDestroy(s1);
  cudaStreamDestroy(s2);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--verbose")) g_verbose = true;
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--verbose]\n", argv[0]);
      return 2;
    }
  }
  std::printf("%s\n", ac_cuda_version());
  const int n = ac_cuda_device_count();
  if (n <= 0) {
    std::printf("SKIP: no CUDA device (%s)\n", ac_cuda_last_error_message());
    return 0;
  }
  char name[256];
  ac_cuda_device_name(0, name, sizeof name);
  std::printf("device 0: %s (%d device%s)%s\n", name, n, n == 1 ? "" : "s", quick ? " [quick]" : "");
  CU(cudaSetDevice(0));

  test_shapes(quick);
  test_launch_shapes(quick);
  test_edges(quick);
  test_sparse(quick);
  test_select(quick);
  test_beam(quick);
  test_host_api_and_validation();
  if (!quick) test_streams();
  ac_cuda_release();
  std::printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
