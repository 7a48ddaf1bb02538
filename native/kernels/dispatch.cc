// Run-time choice of the Ops table: what was compiled in, what this CPU supports (CPUID feature bits) and what the
// operating system saves on context switches (XGETBV: YMM / ZMM state), optionally overridden by AUTOCONTRAST_ISA.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "contrast.h"
#include "head_i8.h"

#if defined(AC_HAVE_X86)
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#elif defined(__GNUC__) || defined(__clang__)
#include <cpuid.h>
#endif
#endif

namespace ac {
namespace {

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + F16C, YMM state enabled by the OS
  bool avx512 = false;  // AVX-512 F/BW/VL/DQ (+ the above), ZMM and opmask state enabled by the OS
  bool avx512_vnni = false;  // the above + AVX512_VNNI (the int8 head product, head_i8.h)
};

#if defined(AC_HAVE_X86)

#if defined(_MSC_VER) && !defined(__clang__)
void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; ++i) r[i] = static_cast<uint32_t>(v[i]);
}
uint32_t max_leaf() {
  uint32_t r[4];
  cpuid(0, 0, r);
  return r[0];
}
uint64_t xgetbv0() { return _xgetbv(0); }
#elif defined(__GNUC__) || defined(__clang__)
void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid_count(leaf, sub, a, b, c, d);
  r[0] = a;
  r[1] = b;
  r[2] = c;
  r[3] = d;
}
uint32_t max_leaf() { return __get_cpuid_max(0, nullptr); }
// Encoded as bytes so no -mxsave flag is needed; only executed after CPUID reports OSXSAVE.
uint64_t xgetbv0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#else
#define AC_NO_CPUID 1
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if !defined(AC_NO_CPUID)
  if (max_leaf() < 7) return f;
  uint32_t l1[4], l7[4];
  cpuid(1, 0, l1);
  cpuid(7, 0, l7);
  const uint32_t ecx1 = l1[2], ebx7 = l7[1];
  const bool fma = ecx1 & (1u << 12), osxsave = ecx1 & (1u << 27), avx = ecx1 & (1u << 28),
             f16c = ecx1 & (1u << 29);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6u) == 0x6u;    // XMM | YMM
  const bool zmm_state = (xcr0 & 0xe6u) == 0xe6u;  // XMM | YMM | opmask | ZMM_Hi256 | Hi16_ZMM
  const bool avx2 = ebx7 & (1u << 5);
  const bool avx512f = ebx7 & (1u << 16), avx512dq = ebx7 & (1u << 17), avx512bw = ebx7 & (1u << 30),
             avx512vl = ebx7 & (1u << 31);
  f.avx2 = ymm_state && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vnni = f.avx512 && (l7[2] & (1u << 11));
#endif
  return f;
}

#else
CpuFeatures detect() { return {}; }
#endif

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

// AVX-512 before AVX2: measured, not assumed. On an Intel Xeon with both (2026-12-02, bench/results/kernel.md) the
// AVX-512 row took 24 µs against AVX2's 34 µs at V = 50257 with a small head and 41 µs against 62 µs with the
// whole row as head; its 16-lane exp, masked tails and in-register compress outweigh any frequency drop, which
// this kernel (short bursts, mostly loads and FMAs) does not show.
const Ops& auto_best() {
  if (const Ops* o = ops_by_name("avx512")) return *o;
  if (const Ops* o = ops_by_name("avx2")) return *o;
  if (const Ops* o = ops_by_name("neon")) return *o;
  return scalar_ops();
}

const Ops& choose() {
  // An unknown, uncompiled or unsupported AUTOCONTRAST_ISA is ignored: the automatic choice is used instead.
  const char* forced = std::getenv("AUTOCONTRAST_ISA");
  if (forced && *forced)
    if (const Ops* o = ops_by_name(forced)) return *o;
  return auto_best();
}

}  // namespace

const Ops* ops_by_name(const char* name) {
  if (!name) return nullptr;
  if (std::strcmp(name, "scalar") == 0) return &scalar_ops();
  if (std::strcmp(name, "avx2") == 0) return features().avx2 ? avx2_ops() : nullptr;
  if (std::strcmp(name, "avx512") == 0) return features().avx512 ? avx512_ops() : nullptr;
  // Advanced SIMD is mandatory on AArch64, so being compiled in is enough.
  if (std::strcmp(name, "neon") == 0) return neon_ops();
  return nullptr;
}

bool cpu_has_avx512_vnni() { return features().avx512_vnni; }

const Ops& best_ops() {
  static const Ops& chosen = choose();
  return chosen;
}

}  // namespace ac
