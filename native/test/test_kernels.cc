// C++ tests of the CPU kernels: every Ops table this CPU supports against the scalar Ops and against an independent
// float64 implementation of the paper's formulas (Gera et al. 2023, Eq. 1-5; Li et al. 2022 for CD), plus the
// thread pool and the dispatcher. No framework: each named case counts as one pass or one fail.
//
// Tolerances (all against the float64 reference computed from the same dtype-rounded inputs):
//   probabilities  |exp(out) - p_ref|         <= 1e-6 + L
//   log-probs      |out - log p_ref|          <= 1e-4 * |log p_ref| + 1e-6 + L   (head tokens)
//   outside head   |out - log p_e|            <= 4 * FLT_EPSILON * (1 + |z| + |lse|) (ACD: z - lse in float)
//   sums           |sum exp(out) - 1|         <= 1e-5
// where L = 2 * FLT_EPSILON * max(1, |lse_e|) is the rounding of the expert log-normaliser, which the shared row code
// (contrast.cc) keeps in float: every output of a row is shifted by that one rounding error.
// SIMD vs scalar Ops: identical head sets and -inf positions; values within 1e-6 + 4 * FLT_EPSILON * max(1, |x|, |lse|).
// The vectorised row (contrast_row, every Ops) against the double-precision reference row (contrast_row_reference):
// the same head and -inf positions, values within that same tolerance, head mass within 1e-5 relative; at head sizes
// 1, 2, 17, 1000, V-1 and V (dense and sparse amateur, every dtype), with ties at the threshold, and minCandidates
// from 1 to V on rows full of ties.
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define AC_TEST_GUARD_PAGES 1
#endif

#include "contrast.h"
#include "half.h"
#include "parallel.h"

using namespace ac;

namespace {

// ---------------------------------------------------------------- tiny harness

int g_passed = 0, g_failed = 0, g_skipped = 0;

struct Case {
  std::string name;
  int errors = 0;
  explicit Case(std::string n) : name(std::move(n)) {}
  void fail(const std::string& msg) {
    if (errors++ < 4) std::printf("FAIL %s: %s\n", name.c_str(), msg.c_str());
  }
  bool expect(bool ok, const std::string& msg) {
    if (!ok) fail(msg);
    return ok;
  }
  ~Case() {
    if (errors) {
      ++g_failed;
      if (errors > 4) std::printf("FAIL %s: ... %d errors in all\n", name.c_str(), errors);
    } else {
      ++g_passed;
    }
  }
};

void skip(const char* msg) {
  ++g_skipped;
  std::printf("SKIP %s\n", msg);
}

#if defined(__GNUC__)
std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
#endif
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

const char* dt_name(DType dt) { return dt == DType::F32 ? "f32" : dt == DType::F16 ? "f16" : "bf16"; }
const char* mode_name(Mode m, bool beta) { return m == Mode::ACD ? "acd" : beta ? "cd+beta" : "cd"; }

constexpr double kInfD = std::numeric_limits<double>::infinity();
constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNaNF = std::numeric_limits<float>::quiet_NaN();

// ---------------------------------------------------------------- data in a dtype

// A row of values in one dtype, stored in a buffer of exactly V elements, plus the float value of each element.
struct Row {
  DType dt = DType::F32;
  std::vector<float> f32;
  std::vector<uint16_t> h16;
  std::vector<float> val;
  const void* data() const { return dt == DType::F32 ? static_cast<const void*>(f32.data()) : h16.data(); }
  size_t size() const { return val.size(); }
};

Row encode(DType dt, const std::vector<float>& src) {
  Row r;
  r.dt = dt;
  r.val.resize(src.size());
  if (dt == DType::F32) {
    r.f32 = src;
    r.val = src;
  } else {
    r.h16.resize(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      r.h16[i] = dt == DType::F16 ? float_to_f16(src[i]) : float_to_bf16(src[i]);
      r.val[i] = dt == DType::F16 ? f16_to_float(r.h16[i]) : bf16_to_float(r.h16[i]);
    }
  }
  return r;
}

std::vector<float> normal(std::mt19937_64& rng, size_t n, double stddev, double mean = 0.0) {
  std::normal_distribution<double> d(mean, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(d(rng));
  return v;
}

// ---------------------------------------------------------------- float64 reference (paper formulas)

struct Ref {
  std::vector<double> out;  // log p_acd (ACD) or log softmax_H(S) / -inf (CD)
  size_t head = 0;
  double mass = 0.0;
  double lse_e = 0.0;
  std::vector<char> in_head;
};

struct Prepared {  // per (expert, amateur) pair: the parts that do not depend on the parameters
  std::vector<double> logpe, logpa;
  double m = 0.0, lse_e = 0.0;
  std::vector<float> sorted_desc;  // expert logits, largest first
};

Prepared prepare(const std::vector<float>& ze, const std::vector<float>& za) {
  Prepared P;
  const size_t V = ze.size();
  double m = -kInfD;
  for (float x : ze) m = std::max(m, static_cast<double>(x));
  double s = 0.0;
  for (float x : ze) s += std::exp(x - m);
  P.m = m;
  P.lse_e = m + std::log(s);
  P.logpe.resize(V);
  for (size_t v = 0; v < V; ++v) P.logpe[v] = ze[v] - P.lse_e;
  double ma = -kInfD;
  for (float x : za) ma = std::max(ma, static_cast<double>(x));
  double sa = 0.0;
  for (float x : za) sa += std::exp(x - ma);
  const double lse_a = ma + std::log(sa);
  P.logpa.resize(V);
  for (size_t v = 0; v < V; ++v) P.logpa[v] = za[v] - lse_a;
  P.sorted_desc = ze;
  std::sort(P.sorted_desc.begin(), P.sorted_desc.end(), std::greater<float>());
  return P;
}

Ref reference(const std::vector<float>& ze, const Prepared& P, const Params& p) {
  const size_t V = ze.size();
  Ref R;
  R.lse_e = P.lse_e;
  R.in_head.assign(V, 0);
  // Eq. 1 in probability space: p_e[v] >= alpha * max p_e, i.e. log p_e[v] >= log(alpha) + log max p_e.
  const double log_thr = p.alpha > 0.f ? std::log(static_cast<double>(p.alpha)) + (P.m - P.lse_e) : -kInfD;
  // A token within float rounding of the threshold is decided as the float kernel decides (z >= max z + ln alpha
  // in float arithmetic); exact ties (>=) are included, as in the reference implementation.
  const float kernel_thr = p.alpha > 0.f ? static_cast<float>(P.m) + std::log(p.alpha) : -kInfF;
  for (size_t v = 0; v < V; ++v) {
    const double d = P.logpe[v] - log_thr;
    const bool ambiguous = std::fabs(d) <= 1e-6 * std::max(1.0, std::fabs(static_cast<double>(ze[v])));
    R.in_head[v] = ambiguous ? ze[v] >= kernel_thr : d >= 0.0;
  }
  // minimum_candidates: threshold = min(alpha * max p_e, k-th largest p_e).
  const size_t k = static_cast<size_t>(std::min<int64_t>(p.min_candidates, static_cast<int64_t>(V)));
  const float zk = P.sorted_desc[k - 1];
  for (size_t v = 0; v < V; ++v)
    if (ze[v] >= zk) R.in_head[v] = 1;

  std::vector<double> s(V, 0.0);
  double smax = -kInfD;
  for (size_t v = 0; v < V; ++v) {
    if (!R.in_head[v]) continue;
    ++R.head;
    R.mass += std::exp(P.logpe[v]);
    // Eq. 2: S = log p_e - log p_a (CD with beta: (1 + beta) log p_e - beta log p_a).
    s[v] = (p.mode == Mode::CD && p.has_beta) ? (1.0 + p.beta) * P.logpe[v] - static_cast<double>(p.beta) * P.logpa[v]
                                              : P.logpe[v] - P.logpa[v];
    smax = std::max(smax, s[v]);
  }
  double zs = 0.0;
  for (size_t v = 0; v < V; ++v)
    if (R.in_head[v]) zs += std::exp(s[v] - smax);
  const double lse_s = smax + std::log(zs);
  R.out.resize(V);
  for (size_t v = 0; v < V; ++v) {
    if (p.mode == Mode::ACD)  // Eq. 4-5: mass * softmax_H(S) on H, p_e elsewhere
      R.out[v] = R.in_head[v] ? std::log(R.mass) + s[v] - lse_s : P.logpe[v];
    else
      R.out[v] = R.in_head[v] ? s[v] - lse_s : -kInfD;
  }
  return R;
}

// ---------------------------------------------------------------- comparisons

void check_against_ref(Case& c, const std::vector<float>& ze, const float* out, const RowStats& st, const Ref& R,
                       const Params& p) {
  const size_t V = ze.size();
  const double L = 2.0 * FLT_EPSILON * std::max(1.0, std::fabs(R.lse_e));
  c.expect(static_cast<size_t>(st.head_size) == R.head, fmt("head size %d, reference %zu", st.head_size, R.head));
  c.expect(std::fabs(st.head_mass - R.mass) <= 1e-5 * R.mass + 1e-6 + L,
           fmt("head mass %.9g, reference %.9g", st.head_mass, R.mass));
  double total = 0.0;
  for (size_t v = 0; v < V; ++v) {
    const double ref = R.out[v], o = out[v];
    if (ref == -kInfD) {
      if (!(o == -kInfD)) c.fail(fmt("v=%zu: expected -inf, got %.9g", v, o));
      continue;
    }
    if (!std::isfinite(o)) {
      c.fail(fmt("v=%zu: non-finite output %g (reference %.9g)", v, o, ref));
      continue;
    }
    total += std::exp(o);
    if (std::fabs(std::exp(o) - std::exp(ref)) > 1e-6 + L)
      c.fail(fmt("v=%zu: probability %.9g, reference %.9g", v, std::exp(o), std::exp(ref)));
    if (R.in_head[v]) {
      if (std::fabs(o - ref) > 1e-4 * std::fabs(ref) + 1e-6 + L)
        c.fail(fmt("v=%zu (head): log-prob %.9g, reference %.9g", v, o, ref));
    } else {
      // Outside the head the kernel writes z - lse in float: log p_e up to float rounding.
      const double tol = 4.0 * FLT_EPSILON * (1.0 + std::fabs(ze[v]) + std::fabs(R.lse_e));
      if (std::fabs(o - ref) > tol) c.fail(fmt("v=%zu (outside): %.9g, log p_e %.9g", v, o, ref));
    }
  }
  c.expect(std::fabs(total - 1.0) <= 1e-5, fmt("probabilities sum to %.9g", total));
  (void)p;
}

void check_against_scalar(Case& c, const float* a, const RowStats& sa, const float* b, const RowStats& sb, size_t V,
                          double lse) {
  c.expect(sa.head_size == sb.head_size, fmt("head size %d vs scalar %d", sa.head_size, sb.head_size));
  for (size_t v = 0; v < V; ++v) {
    if (std::isinf(a[v]) || std::isinf(b[v])) {
      if (a[v] != b[v]) c.fail(fmt("v=%zu: %g vs scalar %g", v, a[v], b[v]));
      continue;
    }
    const double tol = 1e-6 + 4.0 * FLT_EPSILON * std::max({1.0, std::fabs(static_cast<double>(b[v])), std::fabs(lse)});
    if (!(std::fabs(static_cast<double>(a[v]) - b[v]) <= tol))
      c.fail(fmt("v=%zu: %.9g vs scalar %.9g", v, a[v], b[v]));
  }
}

// ---------------------------------------------------------------- the Ops tables under test

std::vector<const Ops*> g_ops;  // scalar first

void collect_ops() {
  g_ops.push_back(&scalar_ops());
  struct Named {
    const char* name;
    const Ops* compiled;
    const char* why;
  };
  const Named all[] = {{"avx2", avx2_ops(), "CPU lacks AVX2/FMA/F16C"},
                       {"avx512", avx512_ops(), "CPU lacks AVX-512"},
                       {"neon", neon_ops(), "CPU lacks NEON"}};
  for (const Named& n : all) {
    if (!n.compiled) {
      skip(fmt("%s: not compiled in (not built for that architecture)", n.name).c_str());
    } else if (const Ops* o = ops_by_name(n.name)) {
      g_ops.push_back(o);
    } else {
      skip(fmt("%s: %s", n.name, n.why).c_str());
    }
  }
  std::printf("testing Ops:");
  for (const Ops* o : g_ops) std::printf(" %s", o->name);
  std::printf("  (best_ops: %s)\n", best_ops().name);
}

const DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

// ---------------------------------------------------------------- Ops-level tests

void test_ops_max_sumexp() {
  std::mt19937_64 rng(1);
  const size_t sizes[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257,
                          1000, 2047, 2048, 2049, 4095, 4097, 6200, 50257};
  for (DType dt : kDTypes) {
    for (size_t n : sizes) {
      for (int pattern = 0; pattern < 4; ++pattern) {
        std::vector<float> src;
        if (pattern == 0) src = normal(rng, n, 5.0);
        if (pattern == 1) {  // increasing: the running max grows in every block (rescaling path)
          src.resize(n);
          for (size_t i = 0; i < n; ++i) src[i] = -40.f + 80.f * static_cast<float>(i) / static_cast<float>(n);
        }
        if (pattern == 2) {  // decreasing
          src.resize(n);
          for (size_t i = 0; i < n; ++i) src[i] = 40.f - 80.f * static_cast<float>(i) / static_cast<float>(n);
        }
        if (pattern == 3) {  // far below the max: exp underflows to 0 (and the denormal range around -87..-104)
          src = normal(rng, n, 1.0);
          for (size_t i = 0; i < n; ++i) src[i] = (i % 3 == 0) ? 0.f : -80.f - static_cast<float>(i % 50) * 1000.f / 49.f;
        }
        const Row r = encode(dt, src);
        double m = -kInfD, s = 0.0;
        for (float x : r.val) m = std::max(m, static_cast<double>(x));
        for (float x : r.val) s += std::exp(x - m);
        for (const Ops* o : g_ops) {
          Case c(fmt("max_sumexp %s %s n=%zu pattern=%d", o->name, dt_name(dt), n, pattern));
          float mo = 0.f, so = 0.f;
          if (!c.expect(o->max_sumexp(r.data(), dt, n, &mo, &so), "returned false on finite data")) continue;
          if (n == 0) {
            c.expect(mo == -kInfF && so == 0.f, "empty row");
            continue;
          }
          c.expect(mo == m, fmt("max %.9g vs %.9g", mo, m));
          c.expect(std::fabs(so - s) <= 1e-6 * s, fmt("sum %.9g vs float64 %.12g (rel %.3g)", so, s, (so - s) / s));
        }
      }
    }
  }
  // Non-finite values anywhere (every position of short rows: the tail paths) make it return false.
  for (DType dt : kDTypes) {
    for (size_t n : {1, 2, 5, 8, 9, 16, 17, 31, 33, 40, 2049}) {
      for (const Ops* o : g_ops) {
        Case c(fmt("max_sumexp non-finite %s %s n=%zu", o->name, dt_name(dt), n));
        for (float bad : {kNaNF, kInfF, -kInfF}) {
          for (size_t pos = 0; pos < n; pos += (n > 40 ? 97 : 1)) {
            std::vector<float> src = normal(rng, n, 1.0);
            src[pos] = bad;
            const Row r = encode(dt, src);
            float mo, so;
            c.expect(!o->max_sumexp(r.data(), dt, n, &mo, &so), fmt("pos %zu value %g not detected", pos, bad));
          }
        }
      }
    }
  }
}

void test_ops_all_finite() {
  std::mt19937_64 rng(2);
  for (DType dt : kDTypes) {
    for (size_t n : {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 1000, 50257}) {
      for (const Ops* o : g_ops) {
        Case c(fmt("all_finite %s %s n=%zu", o->name, dt_name(dt), n));
        std::vector<float> src = normal(rng, n, 3.0);
        // The largest finite value of each dtype is finite.
        if (n) src[n - 1] = dt == DType::F32 ? FLT_MAX : dt == DType::F16 ? 65504.f : 3.3895314e38f;
        c.expect(o->all_finite(encode(dt, src).data(), dt, n), "finite row reported non-finite");
        const size_t step = n > 70 ? n / 7 : 1;
        for (float bad : {kNaNF, kInfF, -kInfF}) {
          std::vector<size_t> positions;
          for (size_t p = 0; p < n; p += step) positions.push_back(p);
          if (n) positions.push_back(n - 1);
          for (size_t pos : positions) {
            std::vector<float> s2 = src;
            s2[pos] = bad;
            c.expect(!o->all_finite(encode(dt, s2).data(), dt, n), fmt("pos %zu value %g not detected", pos, bad));
          }
        }
      }
    }
  }
}

void test_ops_write_collect() {
  std::mt19937_64 rng(3);
  for (DType dt : kDTypes) {
    for (size_t n : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 34, 63, 65, 1000, 50257}) {
      const Row r = encode(dt, normal(rng, n, 4.0));
      std::vector<float> sorted = r.val;
      std::sort(sorted.begin(), sorted.end(), std::greater<float>());
      // thresholds: -inf (all), an exact element (ties at the threshold), between elements, above the max (none)
      const float thrs[] = {-kInfF, sorted[0], sorted[n / 2], sorted[n - 1], sorted[0] + 1.f,
                            sorted[std::min<size_t>(n - 1, 2)] - 1e-3f};
      for (float thr : thrs) {
        for (bool mask : {false, true}) {
          const float sub = 3.25f;
          std::vector<float> out_ref(n);
          std::vector<int32_t> idx_ref(n);
          const size_t cnt_ref = scalar_ops().write_collect(r.data(), dt, n, sub, thr, mask, out_ref.data(), idx_ref.data());
          for (const Ops* o : g_ops) {
            Case c(fmt("write_collect %s %s n=%zu thr=%g mask=%d", o->name, dt_name(dt), n, thr, mask));
            std::vector<float> out(n, 12345.f);
            std::vector<int32_t> idx(n, -7);
            const size_t cnt = o->write_collect(r.data(), dt, n, sub, thr, mask, out.data(), idx.data());
            if (!c.expect(cnt == cnt_ref, fmt("count %zu vs scalar %zu", cnt, cnt_ref))) continue;
            for (size_t j = 0; j < cnt; ++j)
              if (idx[j] != idx_ref[j]) c.fail(fmt("idx[%zu] = %d vs scalar %d", j, idx[j], idx_ref[j]));
            for (size_t j = cnt; j < n; ++j)
              if (idx[j] != -7) c.fail(fmt("idx[%zu] written past the count", j));
            for (size_t i = 0; i < n; ++i) {
              const float want = (mask && !(r.val[i] >= thr)) ? -kInfF : r.val[i] - sub;
              if (std::memcmp(&out[i], &want, sizeof want) != 0 || out[i] != out_ref[i])
                c.fail(fmt("out[%zu] = %.9g, expected %.9g", i, out[i], want));
            }
          }
        }
      }
    }
  }
}

void test_ops_dot() {
  std::mt19937_64 rng(4);
  for (DType dt : kDTypes) {
    for (size_t d = 0; d <= 70; d += (d < 40 ? 1 : 7)) {
      for (size_t big : {size_t{0}, size_t{1}}) {
        const size_t n = big ? d * 15 + 1000 : d;
        const Row w = encode(dt, normal(rng, n, 1.0));
        const std::vector<float> h = normal(rng, n, 1.0);
        double ref = 0.0, mag = 0.0;
        for (size_t i = 0; i < n; ++i) {
          ref += static_cast<double>(w.val[i]) * h[i];
          mag += std::fabs(static_cast<double>(w.val[i]) * h[i]);
        }
        for (const Ops* o : g_ops) {
          Case c(fmt("dot %s %s d=%zu", o->name, dt_name(dt), n));
          const float got = o->dot(w.data(), dt, h.data(), n);
          c.expect(std::fabs(got - ref) <= 4e-6 * mag + 1e-30, fmt("%.9g vs float64 %.12g", got, ref));
        }
      }
    }
  }
}

#if defined(AC_TEST_GUARD_PAGES)
// Buffers that end exactly at an inaccessible page: any read or write past the end faults.
struct Guarded {
  void* base = nullptr;
  size_t total = 0;
  unsigned char* end = nullptr;
  explicit Guarded(size_t bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data_pages = (bytes + page - 1) / page + 1;
    total = (data_pages + 1) * page;
    base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
      base = nullptr;
      return;
    }
    end = static_cast<unsigned char*>(base) + data_pages * page;
    mprotect(end, page, PROT_NONE);
  }
  ~Guarded() {
    if (base) munmap(base, total);
  }
  template <class T>
  T* tail(size_t count) {
    return reinterpret_cast<T*>(end - count * sizeof(T));
  }
};

void test_ops_guard_pages() {
  std::mt19937_64 rng(5);
  for (DType dt : kDTypes) {
    for (size_t n = 1; n <= 40; ++n) {
      for (const Ops* o : g_ops) {
        Case c(fmt("no access past the end %s %s n=%zu", o->name, dt_name(dt), n));
        Guarded in(n * 4), out(n * 4), idx(n * 4), hid(n * 4);
        if (!c.expect(in.base && out.base && idx.base && hid.base, "mmap failed")) continue;
        const Row r = encode(dt, normal(rng, n, 2.0));
        void* z = in.tail<unsigned char>(n * dtype_size(dt));
        std::memcpy(z, r.data(), n * dtype_size(dt));
        float* h = hid.tail<float>(n);
        for (size_t i = 0; i < n; ++i) h[i] = 0.5f;
        float m, s;
        c.expect(o->max_sumexp(z, dt, n, &m, &s), "max_sumexp");
        c.expect(o->all_finite(z, dt, n), "all_finite");
        c.expect(o->write_collect(z, dt, n, 0.f, -kInfF, true, out.tail<float>(n), idx.tail<int32_t>(n)) == n,
                 "write_collect");
        (void)o->dot(z, dt, h, n);
      }
    }
  }
}
#endif

// ---------------------------------------------------------------- kernel tests

struct RunResult {
  std::vector<float> out;
  RowStats st;
};

RunResult run_row(const Ops& o, const Row& e, const Row* a, const SparseAmateur* sp, const Params& p) {
  RunResult r;
  r.out.assign(e.size(), 777.f);
  Scratch scratch;
  r.st = contrast_row(o, e.data(), a ? a->data() : nullptr, sp, e.dt, e.size(), p, r.out.data(), scratch);
  return r;
}

std::vector<Params> param_grid(size_t V) {
  std::vector<Params> grid;
  for (Mode mode : {Mode::ACD, Mode::CD}) {
    for (bool beta : {false, true}) {
      if (mode == Mode::ACD && beta) continue;
      for (float alpha : {0.f, 0.1f, 0.5f, 1.f}) {
        for (int k : {1, 3, 50}) {
          if (static_cast<size_t>(k) > V && k != 1) continue;
          Params p;
          p.mode = mode;
          p.has_beta = beta;
          p.beta = 0.5f;
          p.alpha = alpha;
          p.min_candidates = k;
          grid.push_back(p);
        }
      }
    }
  }
  return grid;
}

void test_kernel_matrix() {
  std::mt19937_64 rng(6);
  const size_t vocab[] = {1, 2, 7, 8, 15, 16, 17, 31, 33, 1000, 49152, 50257};
  for (DType dt : kDTypes) {
    for (size_t V : vocab) {
      for (double scale : {1.0, 5.0, 30.0}) {
        const std::vector<float> ze_src = normal(rng, V, scale);
        std::vector<float> za_src = normal(rng, V, scale * 0.6);
        for (size_t v = 0; v < V; ++v) za_src[v] += 0.5f * ze_src[v];
        const Row e = encode(dt, ze_src), a = encode(dt, za_src);
        const Prepared P = prepare(e.val, a.val);
        for (const Params& p : param_grid(V)) {
          const Ref R = reference(e.val, P, p);
          const RunResult base = run_row(scalar_ops(), e, &a, nullptr, p);
          for (const Ops* o : g_ops) {
            Case c(fmt("contrast_row %s %s V=%zu std=%g %s alpha=%g k=%d", o->name, dt_name(dt), V, scale,
                       mode_name(p.mode, p.has_beta), p.alpha, p.min_candidates));
            const RunResult r = o == &scalar_ops() ? base : run_row(*o, e, &a, nullptr, p);
            check_against_ref(c, e.val, r.out.data(), r.st, R, p);
            if (o != &scalar_ops()) check_against_scalar(c, r.out.data(), r.st, base.out.data(), base.st, V, R.lse_e);
          }
        }
      }
    }
  }
}

void test_invariants() {
  std::mt19937_64 rng(7);
  for (const Ops* o : g_ops) {
    for (DType dt : kDTypes) {
      for (size_t V : {size_t{17}, size_t{1000}, size_t{50257}}) {
        // alpha = 1 with a unique arg-max: H = {argmax} and p_acd = p_e.
        {
          Case c(fmt("alpha=1 unique argmax gives log p_e %s %s V=%zu", o->name, dt_name(dt), V));
          std::vector<float> src = normal(rng, V, 3.0);
          const size_t am = V / 3;
          src[am] = 20.f;
          const Row e = encode(dt, src), a = encode(dt, normal(rng, V, 3.0));
          const Prepared P = prepare(e.val, a.val);
          Params p;
          p.alpha = 1.f;
          const RunResult r = run_row(*o, e, &a, nullptr, p);
          c.expect(r.st.head_size == 1, fmt("head size %d", r.st.head_size));
          for (size_t v = 0; v < V; ++v) {
            const double tol = 4.0 * FLT_EPSILON * (1.0 + std::fabs(e.val[v]) + std::fabs(P.lse_e)) + 1e-7;
            if (std::fabs(r.out[v] - P.logpe[v]) > tol) c.fail(fmt("v=%zu: %.9g vs log p_e %.9g", v, r.out[v], P.logpe[v]));
          }
        }
        // Identical expert and amateur: uniform over H with total mass `mass`.
        for (float alpha : {0.1f, 0.5f}) {
          Case c(fmt("identical models: uniform head %s %s V=%zu alpha=%g", o->name, dt_name(dt), V, alpha));
          const Row e = encode(dt, normal(rng, V, 2.0));
          Params p;
          p.alpha = alpha;
          p.min_candidates = 3;
          const RunResult r = run_row(*o, e, &e, nullptr, p);
          const Prepared P = prepare(e.val, e.val);
          const Ref R = reference(e.val, P, p);
          const double want = std::log(R.mass / static_cast<double>(R.head));
          c.expect(static_cast<size_t>(r.st.head_size) == R.head, "head size");
          for (size_t v = 0; v < V; ++v)
            if (R.in_head[v] && std::fabs(r.out[v] - want) > 1e-5 * std::fabs(want) + 2e-6)
              c.fail(fmt("v=%zu: %.9g, expected log(mass/|H|) = %.9g", v, r.out[v], want));
        }
      }
      // Ties: repeated maxima (alpha = 1 keeps all of them) and ties at the k-th value.
      {
        Case c(fmt("ties at the max and at the k-th value %s %s", o->name, dt_name(dt)));
        const size_t V = 1000;
        std::vector<float> src = normal(rng, V, 1.0);
        for (size_t pos : {5u, 500u, 999u}) src[pos] = 8.f;
        for (size_t pos : {7u, 8u, 600u, 601u}) src[pos] = 6.f;
        const Row e = encode(dt, src), a = encode(dt, normal(rng, V, 1.0));
        const Prepared P = prepare(e.val, a.val);
        Params p;
        p.alpha = 1.f;
        RunResult r = run_row(*o, e, &a, nullptr, p);
        c.expect(r.st.head_size == 3, fmt("alpha=1: head size %d, expected 3", r.st.head_size));
        check_against_ref(c, e.val, r.out.data(), r.st, reference(e.val, P, p), p);
        p.min_candidates = 4;  // the 4th largest is 6 (tied 4 times): the head holds 3 + 4 tokens
        r = run_row(*o, e, &a, nullptr, p);
        c.expect(r.st.head_size == 7, fmt("k=4: head size %d, expected 7", r.st.head_size));
        check_against_ref(c, e.val, r.out.data(), r.st, reference(e.val, P, p), p);
      }
      // A value exactly at the threshold max z + ln(alpha) is in the head (>=).
      {
        Case c(fmt("value exactly at the threshold %s %s", o->name, dt_name(dt)));
        const size_t V = 33;
        std::vector<float> src = normal(rng, V, 1.0);
        for (float& x : src) x = std::min(x, -1.5f);
        src[3] = 1.f;   // max
        src[20] = 0.f;  // at the threshold: 1 + ln(alpha) == 0 in float for the alpha found below
        float alpha = std::exp(-1.f);
        for (int i = 0; i < 64 && 1.f + std::log(alpha) != 0.f; ++i)
          alpha = std::nextafter(alpha, 1.f + std::log(alpha) < 0.f ? 1.f : 0.f);
        if (!c.expect(1.f + std::log(alpha) == 0.f, "could not construct alpha")) continue;
        const Row e = encode(dt, src), a = encode(dt, normal(rng, V, 1.0));
        Params p;
        p.alpha = alpha;
        p.mode = Mode::CD;
        const RunResult r = run_row(*o, e, &a, nullptr, p);
        c.expect(r.st.head_size == 2, fmt("head size %d, expected 2", r.st.head_size));
        c.expect(std::isfinite(r.out[20]) && std::isfinite(r.out[3]), "token at the threshold left out");
        const Prepared P = prepare(e.val, a.val);
        check_against_ref(c, e.val, r.out.data(), r.st, reference(e.val, P, p), p);
      }
    }
    // Shift invariance (f32, where shifted logits stay close to exact): a constant added to all amateur logits,
    // or to all expert logits, changes nothing beyond rounding.
    for (size_t V : {size_t{1000}, size_t{50257}}) {
      Case c(fmt("shift invariance %s V=%zu", o->name, V));
      const std::vector<float> ze = normal(rng, V, 4.0), za = normal(rng, V, 4.0);
      std::vector<float> za_s = za, ze_s = ze;
      for (float& x : za_s) x += 9.5f;
      for (float& x : ze_s) x -= 3.25f;
      const Row e = encode(DType::F32, ze), a = encode(DType::F32, za);
      const Row es = encode(DType::F32, ze_s), as = encode(DType::F32, za_s);
      for (Mode mode : {Mode::ACD, Mode::CD}) {
        Params p;
        p.mode = mode;
        p.alpha = 0.05f;
        p.min_candidates = 5;
        const RunResult r0 = run_row(*o, e, &a, nullptr, p);
        const RunResult r1 = run_row(*o, e, &as, nullptr, p);
        const RunResult r2 = run_row(*o, es, &a, nullptr, p);
        c.expect(r0.st.head_size == r1.st.head_size && r0.st.head_size == r2.st.head_size, "head sizes differ");
        for (size_t v = 0; v < V; ++v) {
          if (std::isinf(r0.out[v])) {
            if (r1.out[v] != r0.out[v] || r2.out[v] != r0.out[v]) c.fail(fmt("v=%zu: -inf pattern differs", v));
            continue;
          }
          const double tol = 2e-5 + 8.0 * FLT_EPSILON * std::fabs(r0.out[v]);
          if (std::fabs(r1.out[v] - r0.out[v]) > tol)
            c.fail(fmt("amateur shift: v=%zu %.9g vs %.9g", v, r1.out[v], r0.out[v]));
          if (std::fabs(r2.out[v] - r0.out[v]) > tol + 8.0 * FLT_EPSILON * 16.0)
            c.fail(fmt("expert shift: v=%zu %.9g vs %.9g", v, r2.out[v], r0.out[v]));
        }
      }
    }
  }
}

void test_non_finite() {
  std::mt19937_64 rng(8);
  for (const Ops* o : g_ops) {
    for (DType dt : kDTypes) {
      for (size_t V : {size_t{1}, size_t{2}, size_t{17}, size_t{1000}, size_t{50257}}) {
        // variant 0: defaults; 1: alpha 0 and 2: minCandidates = V (a head of the whole row: the full_head pass
        // meets the bad value first and leaves the report to the general path).
        for (int which = 0; which < 6; ++which) {
          const int variant = which / 2;
          Case c(fmt("non-finite %s logits %s %s V=%zu%s", which % 2 ? "amateur" : "expert", o->name, dt_name(dt), V,
                     variant == 1 ? " alpha 0" : variant == 2 ? " minCandidates V" : ""));
          for (float bad : {kNaNF, kInfF, -kInfF}) {
            for (size_t pos : {size_t{0}, V / 2, V - 1}) {
              std::vector<float> ze = normal(rng, V, 2.0), za = normal(rng, V, 2.0);
              std::vector<float>& tgt = which % 2 ? za : ze;
              tgt[pos] = bad;
              if (pos + 1 < V) tgt[V - 1] = kNaNF;  // a later one too: the first must be reported
              const Row e = encode(dt, ze), a = encode(dt, za);
              std::vector<float> out(V);
              Scratch scratch;
              try {
                Params p;
                if (variant == 1) p.alpha = 0.f;
                if (variant == 2) p.min_candidates = static_cast<int32_t>(V);
                contrast_row(*o, e.data(), a.data(), nullptr, dt, V, p, out.data(), scratch);
                c.fail(fmt("value %g at %zu: no error", bad, pos));
              } catch (const KernelError& err) {
                const auto want = which % 2 ? KernelError::kNonFiniteAmateur : KernelError::kNonFiniteExpert;
                c.expect(err.code == want && err.index == pos && err.row == 0,
                         fmt("value %g at %zu: got code %d index %zu row %zu", bad, pos, err.code, err.index, err.row));
              }
            }
          }
        }
      }
    }
    // In a batch the lowest failing row is reported, with its index, whatever the thread count.
    for (int threads : {0, 1, 2}) {
      Case c(fmt("non-finite in a batch %s threads=%d", o->name, threads));
      const size_t rows = 64, V = 300;
      std::vector<float> ze = normal(rng, rows * V, 2.0), za = normal(rng, rows * V, 2.0);
      ze[37 * V + 11] = kNaNF;
      ze[50 * V + 3] = kInfF;
      za[20 * V + 299] = -kInfF;
      std::vector<float> out(rows * V);
      Batch b;
      b.expert = ze.data();
      b.amateur = za.data();
      b.rows = rows;
      b.vocab = V;
      b.out = out.data();
      try {
        contrast_batch(*o, b, Params{}, threads);
        c.fail("no error");
      } catch (const KernelError& err) {
        c.expect(err.code == KernelError::kNonFiniteAmateur && err.row == 20 && err.index == 299,
                 fmt("got code %d row %zu index %zu", err.code, err.row, err.index));
      }
    }
  }
}

struct SparseData {
  Row w, bias;
  std::vector<float> h;
  size_t d = 0;
  bool has_bias = false;
  SparseAmateur view() const {
    SparseAmateur s;
    s.weight = w.data();
    s.weight_dtype = w.dt;
    s.bias = has_bias ? bias.data() : nullptr;
    s.hidden = h.data();
    s.d = d;
    return s;
  }
  // The dense amateur logits W h + b, from float64 dot products rounded to float.
  std::vector<float> dense(size_t V) const {
    std::vector<float> za(V);
    for (size_t v = 0; v < V; ++v) {
      double s = 0.0;
      for (size_t i = 0; i < d; ++i) s += static_cast<double>(w.val[v * d + i]) * h[i];
      za[v] = static_cast<float>(s) + (has_bias ? bias.val[v] : 0.f);
    }
    return za;
  }
};

SparseData make_sparse(std::mt19937_64& rng, size_t V, size_t d, DType wdt, bool has_bias) {
  SparseData s;
  s.d = d;
  s.has_bias = has_bias;
  s.w = encode(wdt, normal(rng, V * d, 2.0 / std::sqrt(static_cast<double>(d))));
  s.bias = encode(wdt, normal(rng, V, 0.5));
  s.h = normal(rng, d, 1.0);
  return s;
}

void test_sparse() {
  std::mt19937_64 rng(9);
  struct Shape {
    size_t V, d;
  };
  for (const Shape sh : {Shape{1000, 1}, Shape{1000, 64}, Shape{1000, 1024}, Shape{50257, 1}, Shape{50257, 64}}) {
    for (DType wdt : kDTypes) {
      for (bool has_bias : {false, true}) {
        const SparseData sd = make_sparse(rng, sh.V, sh.d, wdt, has_bias);
        const SparseAmateur sp = sd.view();
        for (DType dt : {DType::F32, DType::BF16}) {
          const Row e = encode(dt, normal(rng, sh.V, 3.0));
          const std::vector<float> za = sd.dense(sh.V);
          const Row a = encode(DType::F32, za);
          for (const Params& p : param_grid(sh.V)) {
            if (p.min_candidates == 3) continue;
            // Dense reference run: amateur logits in float32 (the sparse path computes them in float too).
            Row e32 = encode(DType::F32, e.val);
            const RunResult dense = run_row(scalar_ops(), e32, &a, nullptr, p);
            for (const Ops* o : g_ops) {
              Case c(fmt("sparse amateur %s logits %s W %s V=%zu d=%zu bias=%d %s alpha=%g k=%d", o->name,
                         dt_name(dt), dt_name(wdt), sh.V, sh.d, has_bias, mode_name(p.mode, p.has_beta), p.alpha,
                         p.min_candidates));
              const RunResult r = run_row(*o, e, nullptr, &sp, p);
              c.expect(r.st.head_size == dense.st.head_size, fmt("head %d vs dense %d", r.st.head_size, dense.st.head_size));
              for (size_t v = 0; v < sh.V; ++v) {
                if (std::isinf(dense.out[v]) || std::isinf(r.out[v])) {
                  if (dense.out[v] != r.out[v]) c.fail(fmt("v=%zu: %g vs dense %g", v, r.out[v], dense.out[v]));
                  continue;
                }
                const double tol = 1e-4 * std::fabs(dense.out[v]) + 1e-5;
                if (std::fabs(r.out[v] - dense.out[v]) > tol)
                  c.fail(fmt("v=%zu: %.9g vs dense %.9g", v, r.out[v], dense.out[v]));
              }
            }
          }
        }
      }
    }
  }
  // A non-finite weight in a head row is reported as a non-finite amateur logit at that token.
  for (const Ops* o : g_ops) {
    Case c(fmt("sparse amateur non-finite weight %s", o->name));
    SparseData sd = make_sparse(rng, 100, 64, DType::F32, true);
    std::vector<float> ze = normal(rng, 100, 1.0);
    ze[42] = 30.f;
    sd.w.f32[42 * 64 + 63] = kNaNF;
    sd.w.val[42 * 64 + 63] = kNaNF;
    const SparseAmateur sp = sd.view();
    const Row e = encode(DType::F32, ze);
    try {
      run_row(*o, e, nullptr, &sp, Params{});
      c.fail("no error");
    } catch (const KernelError& err) {
      c.expect(err.code == KernelError::kNonFiniteAmateur && err.index == 42,
               fmt("got code %d index %zu", err.code, err.index));
    }
  }
}

// ---------------------------------------------------------------- vectorised head vs the reference path

RunResult run_reference(const Row& e, const Row* a, const SparseAmateur* sp, const Params& p) {
  RunResult r;
  r.out.assign(e.size(), 777.f);
  Scratch scratch;
  r.st = contrast_row_reference(scalar_ops(), e.data(), a ? a->data() : nullptr, sp, e.dt, e.size(), p, r.out.data(),
                                scratch);
  return r;
}

// The vectorised row against the double-precision reference path: the same head, the same -inf positions, values
// within float rounding (check_against_scalar's tolerance) and the same head mass.
void check_against_reference(Case& c, const RunResult& r, const RunResult& ref, size_t V, double lse) {
  check_against_scalar(c, r.out.data(), r.st, ref.out.data(), ref.st, V, lse);
  c.expect(std::fabs(r.st.head_mass - ref.st.head_mass) <= 1e-5 * ref.st.head_mass + 1e-6,
           fmt("head mass %.9g vs reference %.9g", r.st.head_mass, ref.st.head_mass));
}

// An expert row whose head (alpha = 0.1) holds exactly h tokens: h values within [top - 2, top], the others at
// most top - 2.6 (ln 10 = 2.303), with the positions spread at random.
std::vector<float> row_with_head(std::mt19937_64& rng, size_t V, size_t h) {
  std::vector<size_t> pos(V);
  for (size_t i = 0; i < V; ++i) pos[i] = i;
  std::shuffle(pos.begin(), pos.end(), rng);
  std::uniform_real_distribution<float> in(2.f, 4.f), out(-12.f, 1.4f);
  std::vector<float> z(V);
  for (size_t j = 0; j < V; ++j) z[pos[j]] = j == 0 ? 4.f : j < h ? in(rng) : out(rng);
  return z;
}

std::vector<Params> head_params(float alpha) {
  std::vector<Params> ps;
  for (int variant = 0; variant < 3; ++variant) {
    Params p;
    p.alpha = alpha;
    p.mode = variant == 0 ? Mode::ACD : Mode::CD;
    p.has_beta = variant == 2;
    p.beta = 0.5f;
    ps.push_back(p);
  }
  return ps;
}

void test_head_sizes() {
  std::mt19937_64 rng(11);
  for (size_t V : {size_t{50257}, size_t{1000}, size_t{37}}) {
    std::vector<size_t> heads{1, 2, 17, 1000, V - 1, V};
    for (DType dt : kDTypes) {
      for (size_t h : heads) {
        if (h > V || (h == 1000 && V == 1000)) continue;
        const std::vector<float> ze_src = row_with_head(rng, V, h);
        const Row e = encode(dt, ze_src);
        const Row a = encode(dt, normal(rng, V, 3.0));
        const Prepared P = prepare(e.val, a.val);
        // alpha = 0.1 gives the head of h tokens; alpha = 0 always gives the whole row (h = V).
        for (float alpha : {0.1f, 0.f}) {
          if (alpha == 0.f && h != V && h != 1) continue;
          for (const Params& p : head_params(alpha)) {
            const RunResult ref = run_reference(e, &a, nullptr, p);
            const Ref R = reference(e.val, P, p);
            for (const Ops* o : g_ops) {
              Case c(fmt("head size %zu %s %s V=%zu %s alpha=%g", alpha == 0.f ? V : h, o->name, dt_name(dt), V,
                         mode_name(p.mode, p.has_beta), p.alpha));
              const RunResult r = run_row(*o, e, &a, nullptr, p);
              c.expect(static_cast<size_t>(r.st.head_size) == (alpha == 0.f ? V : h),
                       fmt("head size %d, constructed %zu", r.st.head_size, alpha == 0.f ? V : h));
              check_against_reference(c, r, ref, V, R.lse_e);
              check_against_ref(c, e.val, r.out.data(), r.st, R, p);
            }
          }
        }
        // The sparse amateur (a linear exit, d = 8) on the same head sizes.
        if (V <= 1000 || h <= 1000) {
          const SparseData sd = make_sparse(rng, V, 8, dt, true);
          const SparseAmateur sp = sd.view();
          for (const Params& p : head_params(0.1f)) {
            const RunResult ref = run_reference(e, nullptr, &sp, p);
            for (const Ops* o : g_ops) {
              Case c(fmt("head size %zu sparse %s %s V=%zu %s", h, o->name, dt_name(dt), V, mode_name(p.mode, p.has_beta)));
              const RunResult r = run_row(*o, e, nullptr, &sp, p);
              c.expect(static_cast<size_t>(r.st.head_size) == h, fmt("head size %d, constructed %zu", r.st.head_size, h));
              check_against_reference(c, r, ref, V, P.lse_e);
            }
          }
        }
      }
    }
  }
}

// Ties: values exactly at the threshold belong to the head (>=), and minCandidates from 1 to V on rows full of
// repeated values (the k-th largest tied with others: every tied token is in).
void test_head_ties_and_min_candidates() {
  std::mt19937_64 rng(12);
  for (const Ops* o : g_ops) {
    Case c(fmt("ties at the threshold %s", o->name));
    const size_t V = 301;
    std::vector<float> ze = normal(rng, V, 1.0, -6.0);
    ze[5] = 4.f;
    const float thr = 4.f + std::log(0.1f);  // the kernel's expression
    for (size_t v : {7, 100, 299, 300}) ze[v] = thr;
    ze[8] = std::nextafter(thr, -kInfF);
    const Row e = encode(DType::F32, ze), a = encode(DType::F32, normal(rng, V, 2.0));
    for (const Params& p : head_params(0.1f)) {
      const RunResult r = run_row(*o, e, &a, nullptr, p), ref = run_reference(e, &a, nullptr, p);
      c.expect(r.st.head_size == 5, fmt("head size %d, expected 5 (the max and 4 ties)", r.st.head_size));
      c.expect(std::isinf(r.out[8]) == (p.mode == Mode::CD), "the value just below the threshold is outside");
      check_against_reference(c, r, ref, V, 0.0);
    }
  }
  for (DType dt : kDTypes) {
    for (size_t V : {size_t{1}, size_t{2}, size_t{17}, size_t{40}}) {
      std::vector<float> ze(V);
      std::uniform_int_distribution<int> level(-4, 4);
      for (float& x : ze) x = static_cast<float>(level(rng));  // many ties
      const Row e = encode(dt, ze), a = encode(dt, normal(rng, V, 2.0));
      const Prepared P = prepare(e.val, a.val);
      for (size_t k = 1; k <= V; ++k) {
        for (Params p : head_params(0.9f)) {
          p.min_candidates = static_cast<int32_t>(k);
          const RunResult ref = run_reference(e, &a, nullptr, p);
          const Ref R = reference(e.val, P, p);
          for (const Ops* o : g_ops) {
            Case c(fmt("minCandidates %zu of V=%zu %s %s %s", k, V, o->name, dt_name(dt), mode_name(p.mode, p.has_beta)));
            const RunResult r = run_row(*o, e, &a, nullptr, p);
            c.expect(static_cast<size_t>(r.st.head_size) >= k, fmt("head %d < k", r.st.head_size));
            check_against_reference(c, r, ref, V, R.lse_e);
            check_against_ref(c, e.val, r.out.data(), r.st, R, p);
          }
        }
      }
    }
  }
}

#if defined(AC_TEST_GUARD_PAGES)
void test_row_guard_pages() {
  std::mt19937_64 rng(6);
  // The whole row (every pass, its peel and its tail), dense and sparse amateur, each array ending at a guard page
  // (so starting at every alignment as n varies), the head from 1 token to all of them.
  for (DType dt : kDTypes) {
    for (size_t n : {size_t{1}, size_t{5}, size_t{17}, size_t{33}, size_t{131}, size_t{2061}, size_t{4099}}) {
      for (const Ops* o : g_ops) {
        Case c(fmt("no access past the end, whole row %s %s n=%zu", o->name, dt_name(dt), n));
        Guarded ge(n * 4), ga(n * 4), go(n * 4);
        if (!c.expect(ge.base && ga.base && go.base, "mmap failed")) continue;
        const Row e = encode(dt, normal(rng, n, 2.0)), a = encode(dt, normal(rng, n, 2.0));
        void* ze = ge.tail<unsigned char>(n * dtype_size(dt));
        void* za = ga.tail<unsigned char>(n * dtype_size(dt));
        std::memcpy(ze, e.data(), n * dtype_size(dt));
        std::memcpy(za, a.data(), n * dtype_size(dt));
        const SparseData sd = make_sparse(rng, n, 4, dt, true);
        const SparseAmateur sp = sd.view();
        Scratch scratch;
        for (float alpha : {0.5f, 0.f}) {
          Params p;
          p.alpha = alpha;
          const RowStats st = contrast_row(*o, ze, za, nullptr, dt, n, p, go.tail<float>(n), scratch);
          c.expect(st.head_size >= 1, "dense row");
          const RowStats ss = contrast_row(*o, ze, nullptr, &sp, dt, n, p, go.tail<float>(n), scratch);
          c.expect(ss.head_size == st.head_size, "sparse row");
        }
      }
    }
  }
}
#endif

// A large head (more than V/16 tokens) whose tokens are dense in part of the row and sparse elsewhere: dense_pass
// leaves the sparse blocks to the packed path, so the row is finished on packed arrays; with the dense part first
// or last (the running max of the scores grows either way), every dtype and Ops table, against the reference.
void test_mixed_density() {
  std::mt19937_64 rng(14);
  const size_t V = 50257;
  std::uniform_real_distribution<float> in(2.f, 4.f), out(-12.f, 1.4f);
  for (bool dense_first : {true, false}) {
    std::vector<float> ze(V);
    for (size_t v = 0; v < V; ++v) {
      const bool dense_part = dense_first ? v < 8000 : v >= V - 8000;
      ze[v] = (dense_part || v % 101 == 0) ? in(rng) : out(rng);
    }
    ze[dense_first ? V - 5 : 3] = 4.f;  // the max in the sparse part
    for (DType dt : kDTypes) {
      const Row e = encode(dt, ze), a = encode(dt, normal(rng, V, 3.0));
      const Prepared P = prepare(e.val, a.val);
      for (const Params& p : head_params(0.1f)) {
        const RunResult ref = run_reference(e, &a, nullptr, p);
        const Ref R = reference(e.val, P, p);
        for (const Ops* o : g_ops) {
          Case c(fmt("mixed head density %s %s %s, dense part %s", o->name, dt_name(dt), mode_name(p.mode, p.has_beta),
                     dense_first ? "first" : "last"));
          const RunResult r = run_row(*o, e, &a, nullptr, p);
          c.expect(static_cast<size_t>(r.st.head_size) > V / 16, fmt("head size %d", r.st.head_size));
          check_against_reference(c, r, ref, V, R.lse_e);
          check_against_ref(c, e.val, r.out.data(), r.st, R, p);
        }
      }
    }
  }
}

// Address independence: the same row copied to every element offset within 64 bytes (the expert, amateur and
// output offsets equal, or apart), over several blocks (V = 5000) and head sizes from 1 to V, gives bit-identical
// log-probabilities and statistics on every Ops table and dtype, dense and sparse amateur, ACD and CD, for the
// vectorised row and for the reference path; and agrees with the reference computed on an aligned copy within
// float rounding. (The kernels assign lanes and blocks by index in the row, never by address: head_ops.inc.)
void test_alignment() {
  std::mt19937_64 rng(13);
  const size_t V = 5000;
  auto bits_equal = [](Case& c, const float* x, const RowStats& sx, const std::vector<float>& y, const RowStats& sy,
                       size_t n) {
    c.expect(sx.head_size == sy.head_size, fmt("head size %d vs %d at offset 0", sx.head_size, sy.head_size));
    c.expect(std::memcmp(&sx.head_mass, &sy.head_mass, sizeof(float)) == 0,
             fmt("head mass %.9g vs %.9g at offset 0", sx.head_mass, sy.head_mass));
    for (size_t v = 0; v < n; ++v)
      if (std::memcmp(x + v, y.data() + v, sizeof(float)) != 0) c.fail(fmt("v=%zu: %.9g vs %.9g at offset 0", v, x[v], y[v]));
  };
  for (DType dt : kDTypes) {
    const size_t es = dtype_size(dt);
    for (size_t h : {size_t{1}, size_t{17}, size_t{1000}, size_t{3000}, V}) {
      const Row e = encode(dt, row_with_head(rng, V, h));
      const Row a = encode(dt, normal(rng, V, 3.0));
      const SparseData sd = make_sparse(rng, V, 8, dt, true);
      const SparseAmateur sp = sd.view();
      for (Mode mode : {Mode::ACD, Mode::CD}) {
        Params p;
        p.alpha = h == V ? 0.f : 0.1f;
        p.mode = mode;
        const RunResult ref = run_reference(e, &a, nullptr, p);
        const RunResult ref_sp = run_reference(e, nullptr, &sp, p);
        // 64-byte aligned buffers with room for an offset of up to 15 floats.
        std::vector<float> eb(V + 32), ab(V + 32), ob(V + 32);
        auto at = [](std::vector<float>& b, size_t off_bytes) {
          const uintptr_t base = (reinterpret_cast<uintptr_t>(b.data()) + 63) & ~uintptr_t{63};
          return reinterpret_cast<unsigned char*>(base) + off_bytes;
        };
        for (const Ops* o : g_ops) {
          // The results at offset 0 (all streams aligned), which every other offset must equal bit for bit.
          struct Base {
            std::vector<float> out;
            RowStats st;
          } base[3];  // dense, sparse, reference path (dense)
          for (size_t off = 0; off < 64 / es; ++off) {
            for (bool same : {true, false}) {
              if (off == 0 && !same) continue;
              const size_t off_a = same ? off : (off * 7 + 3) % (64 / es), off_o = same ? off * es / 4 : (off + 5) % 16;
              Case c(fmt("address independence %s %s %s head %zu offset %zu%s", o->name, dt_name(dt),
                         mode == Mode::CD ? "cd" : "acd", h, off, same ? "" : " (streams apart)"));
              void* ze = at(eb, off * es);
              void* za = at(ab, off_a * es);
              float* out = reinterpret_cast<float*>(at(ob, off_o * 4));
              std::memcpy(ze, e.data(), V * es);
              std::memcpy(za, a.data(), V * es);
              Scratch scratch;
              auto check = [&](int k, const RowStats& st, const RunResult& want) {
                if (off == 0) {
                  base[k].out.assign(out, out + V);
                  base[k].st = st;
                  if (k < 2) check_against_scalar(c, out, st, want.out.data(), want.st, V, 0.0);
                } else {
                  bits_equal(c, out, st, base[k].out, base[k].st, V);
                }
              };
              check(0, contrast_row(*o, ze, za, nullptr, dt, V, p, out, scratch), ref);
              if (h <= 3000) check(1, contrast_row(*o, ze, nullptr, &sp, dt, V, p, out, scratch), ref_sp);
              check(2, contrast_row_reference(*o, ze, za, nullptr, dt, V, p, out, scratch), ref);
            }
          }
        }
      }
    }
  }
}

void test_batch() {
  std::mt19937_64 rng(10);
  struct Shape {
    size_t rows, V;
  };
  for (const Ops* o : g_ops) {
    for (const Shape sh : {Shape{1, 1000}, Shape{3, 1000}, Shape{64, 1000}, Shape{3, 50257}, Shape{64, 33}}) {
      for (bool sparse : {false, true}) {
        for (DType dt : kDTypes) {
          const size_t d = 48;
          const std::vector<float> ze_src = normal(rng, sh.rows * sh.V, 3.0), za_src = normal(rng, sh.rows * sh.V, 3.0);
          const Row e = encode(dt, ze_src), a = encode(dt, za_src);
          const SparseData sd = sparse ? make_sparse(rng, sh.V, d, dt, true) : SparseData{};
          const std::vector<float> hidden = normal(rng, sh.rows * d, 1.0);
          Params p;
          p.alpha = 0.2f;
          p.min_candidates = 3;
          p.mode = sh.rows == 3 ? Mode::CD : Mode::ACD;
          // Per-row results.
          std::vector<float> want(sh.rows * sh.V);
          std::vector<RowStats> want_st(sh.rows);
          Scratch scratch;
          for (size_t r = 0; r < sh.rows; ++r) {
            SparseAmateur sp = sd.view();
            sp.hidden = hidden.data() + r * d;
            const size_t es = dtype_size(dt);
            want_st[r] = contrast_row(*o, static_cast<const char*>(e.data()) + r * sh.V * es,
                                      sparse ? nullptr : static_cast<const char*>(a.data()) + r * sh.V * es,
                                      sparse ? &sp : nullptr, dt, sh.V, p, want.data() + r * sh.V, scratch);
          }
          for (int threads : {0, 1, 2}) {
            Case c(fmt("contrast_batch %s %s rows=%zu V=%zu sparse=%d threads=%d", o->name, dt_name(dt), sh.rows,
                       sh.V, sparse, threads));
            std::vector<float> out(sh.rows * sh.V, 99.f);
            std::vector<RowStats> st(sh.rows);
            Batch b;
            b.expert = e.data();
            b.amateur = sparse ? nullptr : a.data();
            if (sparse) {
              b.sparse = sd.view();
              b.sparse.hidden = hidden.data();
            }
            b.dtype = dt;
            b.rows = sh.rows;
            b.vocab = sh.V;
            b.out = out.data();
            b.stats = st.data();
            contrast_batch(*o, b, p, threads);
            c.expect(std::memcmp(out.data(), want.data(), out.size() * sizeof(float)) == 0,
                     "outputs differ from per-row results");
            for (size_t r = 0; r < sh.rows; ++r)
              c.expect(st[r].head_size == want_st[r].head_size && st[r].head_mass == want_st[r].head_mass,
                       fmt("stats of row %zu differ", r));
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- thread pool

void test_parallel() {
  {
    Case c("default_threads");
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    c.expect(default_threads() >= 1 && default_threads() <= static_cast<int>(hw),
             fmt("default_threads() = %d, hardware %u", default_threads(), hw));
  }
  for (size_t n : {0, 1, 2, 3, 7, 100, 1000}) {
    for (int threads : {0, 1, 2, 3, 8, -1}) {
      Case c(fmt("parallel_for covers each index once n=%zu threads=%d", n, threads));
      std::vector<std::atomic<int>> hits(n);
      for (auto& h : hits) h = 0;
      parallel_for(n, threads, [&](size_t b, size_t e) {
        if (b >= e || e > n) c.fail(fmt("bad range [%zu, %zu)", b, e));
        for (size_t i = b; i < e && i < n; ++i) hits[i]++;
      });
      for (size_t i = 0; i < n; ++i)
        if (hits[i] != 1) c.fail(fmt("index %zu ran %d times", i, hits[i].load()));
    }
  }
  for (int threads : {0, 1, 2}) {
    Case c(fmt("parallel_for rethrows the lowest failure threads=%d", threads));
    for (int rep = 0; rep < 20; ++rep) {
      try {
        parallel_for(100, threads, [&](size_t b, size_t e) {
          for (size_t i = b; i < e; ++i)
            if (i == 30 || i == 70 || i == 99) throw std::runtime_error(std::to_string(i));
        });
        c.fail("no exception");
      } catch (const std::runtime_error& err) {
        c.expect(std::string(err.what()) == "30", fmt("got %s", err.what()));
      }
    }
  }
  {
    Case c("nested parallel_for runs inline");
    std::atomic<int> total{0};
    parallel_for(8, 0, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i)
        parallel_for(10, 0, [&](size_t b2, size_t e2) { total += static_cast<int>(e2 - b2); });
    });
    c.expect(total == 80, fmt("total %d", total.load()));
  }
  {
    Case c("concurrent callers");
    std::atomic<int> errors{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&, t] {
        for (int rep = 0; rep < 200; ++rep) {
          const size_t n = static_cast<size_t>(5 + (rep * 7 + t) % 60);
          std::vector<int> hits(n, 0);
          parallel_for(n, 0, [&](size_t b, size_t e) {
            for (size_t i = b; i < e; ++i) hits[i]++;
          });
          for (int h : hits)
            if (h != 1) errors++;
        }
      });
    }
    for (auto& t : ts) t.join();
    c.expect(errors == 0, fmt("%d indices not run exactly once", errors.load()));
  }
}

// ---------------------------------------------------------------- dispatch

void test_dispatch() {
  Case c("dispatch");
  c.expect(ops_by_name("scalar") == &scalar_ops(), "scalar by name");
  c.expect(ops_by_name(nullptr) == nullptr && ops_by_name("") == nullptr && ops_by_name("sse9") == nullptr &&
               ops_by_name("AVX2x") == nullptr,
           "unknown names give null");
  for (const char* n : {"avx2", "avx512", "neon"}) {
    const Ops* o = ops_by_name(n);
    if (o) c.expect(std::strcmp(o->name, n) == 0, fmt("%s has name %s", n, o->name));
  }
  if (!avx512_ops()) c.expect(ops_by_name("avx512") == nullptr, "avx512 not compiled in but returned");
  // best_ops: the forced one when AUTOCONTRAST_ISA names a supported table, otherwise the widest supported one.
  const Ops* widest = &scalar_ops();
  for (const char* n : {"neon", "avx2", "avx512"})
    if (const Ops* o = ops_by_name(n)) widest = o;
  const char* env = std::getenv("AUTOCONTRAST_ISA");
  const Ops* forced = env ? ops_by_name(env) : nullptr;
  const Ops* want = forced ? forced : widest;
  c.expect(&best_ops() == want, fmt("best_ops %s, expected %s (AUTOCONTRAST_ISA=%s)", best_ops().name, want->name,
                                    env ? env : "unset"));
  c.expect(&best_ops() == &best_ops(), "best_ops is cached");
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  collect_ops();
  test_dispatch();
  test_ops_max_sumexp();
  test_ops_all_finite();
  test_ops_write_collect();
  test_ops_dot();
#if defined(AC_TEST_GUARD_PAGES)
  test_ops_guard_pages();
#endif
  test_kernel_matrix();
  test_invariants();
  test_non_finite();
  test_sparse();
  test_head_sizes();
  test_head_ties_and_min_candidates();
  test_alignment();
  test_mixed_density();
#if defined(AC_TEST_GUARD_PAGES)
  test_row_guard_pages();
#endif
  test_batch();
  test_parallel();
  if (g_skipped)
    std::printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
  else
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
