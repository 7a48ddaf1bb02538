#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: builds the CUDA kernels (Release), runs ac_cuda_tests, the
# benchmark, the PyTorch reference comparison, and compute-sanitizer memcheck on the quick test set, and
# writes everything into a results folder (plus the Node CUDA decode-loop test where node and ONNX Runtime's
# CUDA provider are installed). Designed to finish in under 5 minutes including the build; every
# step has a time limit and a failing step is recorded, not fatal.
#
# Usage: scripts/device-check.sh [RESULTS_DIR] [--dry-run]
#   RESULTS_DIR  default: $OUT if set, else ./device-results
#   --dry-run    print what would run (no build, no GPU needed)
# Environment:
#   AC_CUDA_ARCHS   CMake CUDA architectures to build (default: this GPU's, e.g. "90-real"; falls back to
#                   "80-real;90-real;90-virtual" when nvidia-smi cannot tell)
#   AC_BUILD_DIR    build folder (default: build/device)
#   AC_TIME_BUDGET  total seconds (default 285)
#   AC_FORCE_NVCC=1 skip cmake and drive nvcc directly
#
# Assumes: nvcc present; cmake optional (else nvcc is driven directly); Node.js not needed; PyTorch optional.
set -u -o pipefail

DRY=0
RES=""
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) RES="$arg" ;;
  esac
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RES=${RES:-${OUT:-./device-results}}
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
BUILD=${AC_BUILD_DIR:-$ROOT/build/device}
BUDGET=${AC_TIME_BUDGET:-285}
START=$(date +%s)
SUMMARY="$RES/summary.txt"
: > "$SUMMARY"
STEPS_JSON=""
FAILED=0

# Make CUDA tools findable even when PATH lacks them.
for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
  [ -d "$d" ] && case ":$PATH:" in *":$d:"*) ;; *) PATH="$PATH:$d" ;; esac
done
export PATH

log() { echo "[device-check $(( $(date +%s) - START ))s] $*" | tee -a "$SUMMARY"; }
remaining() { echo $(( BUDGET - ($(date +%s) - START) )); }

# run_step NAME LIMIT_SECONDS CMD...: runs CMD with a time limit (clamped to the remaining budget), output in
# RES/NAME.log, records status and duration. Returns the command's status.
run_step() {
  local name=$1 limit=$2
  shift 2
  local left
  left=$(( $(remaining) - 5 ))
  if [ "$limit" -gt "$left" ]; then limit=$left; fi
  if [ "$limit" -lt 5 ]; then
    log "SKIP $name: out of time budget"
    STEPS_JSON="$STEPS_JSON{\"step\": \"$name\", \"status\": \"skipped (time budget)\"},"
    FAILED=1
    return 124
  fi
  if [ "$DRY" = 1 ]; then
    log "DRY $name (limit ${limit}s): $*"
    STEPS_JSON="$STEPS_JSON{\"step\": \"$name\", \"status\": \"dry-run\"},"
    return 0
  fi
  local t0 rc
  t0=$(date +%s)
  log "RUN  $name (limit ${limit}s): $*"
  timeout --kill-after=5 "$limit" "$@" > "$RES/$name.log" 2>&1
  rc=$?
  local dt=$(( $(date +%s) - t0 ))
  local status="ok"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status="timeout"; elif [ $rc -ne 0 ]; then status="failed"; fi
  [ $rc -ne 0 ] && FAILED=1
  log "DONE $name: $status (rc=$rc, ${dt}s); last lines:"
  tail -n 3 "$RES/$name.log" | sed 's/^/    /' | tee -a "$SUMMARY"
  STEPS_JSON="$STEPS_JSON{\"step\": \"$name\", \"status\": \"$status\", \"rc\": $rc, \"seconds\": $dt},"
  return $rc
}

# ---- machine facts ----
GPU_NAME="unknown"
CC=""
if command -v nvidia-smi > /dev/null 2>&1; then
  if [ "$DRY" = 0 ]; then
    timeout 30 nvidia-smi -q > "$RES/nvidia-smi-q.txt" 2>&1
    timeout 15 nvidia-smi > "$RES/nvidia-smi.txt" 2>&1
  fi
  GPU_NAME=$(timeout 15 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1)
  CC=$(timeout 15 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' .')
fi
echo "${GPU_NAME:-unknown}" > "$RES/gpu-name.txt"
{
  echo "gpu: ${GPU_NAME:-unknown} (compute capability ${CC:-?})"
  echo "host: $(uname -a)"
  echo "cpus: $(nproc)"
  echo "nvcc: $(nvcc --version 2>/dev/null | tail -n 2 | tr '\n' ' ')"
  echo "cmake: $(cmake --version 2>/dev/null | head -n1)"
  echo "python: $(python3 --version 2>&1)"
  echo "torch: $(timeout 30 python3 -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>/dev/null || echo absent)"
  echo "compute-sanitizer: $(command -v compute-sanitizer || echo absent)"
  echo "git: $(cd "$ROOT" && git rev-parse HEAD 2>/dev/null) $(cd "$ROOT" && git status --short 2>/dev/null | wc -l) changed files"
} > "$RES/environment.txt"
log "GPU: ${GPU_NAME:-unknown}, results in $RES"

if [ -n "${AC_CUDA_ARCHS:-}" ]; then
  ARCHS=$AC_CUDA_ARCHS
elif [ -n "$CC" ]; then
  ARCHS="${CC}-real"
else
  ARCHS="80-real;90-real;90-virtual"
fi

# ---- build ----
find_cmake() {
  if command -v cmake > /dev/null 2>&1; then
    local v
    v=$(cmake --version | head -n1 | sed 's/[^0-9.]*\([0-9.]*\).*/\1/')
    case "$v" in 3.1[8-9]*|3.[2-9][0-9]*|[4-9].*) command -v cmake; return 0 ;; esac
  fi
  python3 - <<'PY' 2>/dev/null
import os
try:
    import cmake
    p = os.path.join(cmake.CMAKE_BIN_DIR, "cmake")
    if os.path.exists(p):
        print(p)
except Exception:
    pass
PY
}

build_cmake() {
  local cm=$1
  "$cm" -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAUTOCONTRAST_CUDA=ON \
    "-DCMAKE_CUDA_ARCHITECTURES=$ARCHS" &&
    "$cm" --build "$BUILD" -j "$(nproc)" --target autocontrast_cuda ac_cuda_tests ac_cuda_bench
}

# Direct nvcc build (no cmake): same sources and flags as native/cuda/CMakeLists.txt.
build_nvcc() {
  local out=$BUILD/nvcc
  mkdir -p "$out/obj"
  local gencode=""
  local a
  IFS=';' read -ra parts <<< "$ARCHS"
  for a in "${parts[@]}"; do
    case "$a" in
      *-real) gencode="$gencode -gencode arch=compute_${a%-real},code=sm_${a%-real}" ;;
      *-virtual) gencode="$gencode -gencode arch=compute_${a%-virtual},code=compute_${a%-virtual}" ;;
      *) gencode="$gencode -gencode arch=compute_$a,code=[sm_$a,compute_$a]" ;;
    esac
  done
  local flags="-std=c++17 -O3 -DNDEBUG --expt-relaxed-constexpr --extended-lambda --threads 0 $gencode"
  local x86=""
  case "$(uname -m)" in x86_64|amd64) x86="-DAC_HAVE_X86=1" ;; esac
  local pids=() f
  for f in "$ROOT"/native/cuda/src/*.cu; do
    nvcc $flags -Xcompiler -fPIC,-fvisibility=hidden -c "$f" -o "$out/obj/$(basename "$f" .cu).o" &
    pids+=($!)
  done
  for f in "$ROOT"/native/kernels/*.cc; do
    local isa=""
    case "$f" in
      *_avx2.cc) isa="-mavx2 -mfma -mf16c" ;;
      *_avx512.cc) isa="-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c" ;;
    esac
    [ -z "$x86" ] && [ -n "$isa" ] && isa=""
    g++ -std=c++17 -O3 -fPIC $x86 $isa -I"$ROOT/native/kernels" -c "$f" -o "$out/obj/k_$(basename "$f" .cc).o" &
    pids+=($!)
  done
  local p ok=0
  for p in "${pids[@]}"; do wait "$p" || ok=1; done
  [ $ok -eq 0 ] || return 1
  ar rcs "$out/libac_kernels.a" "$out"/obj/k_*.o || return 1
  nvcc $flags -shared -o "$out/libautocontrast_cuda.so" "$out"/obj/api.o "$out"/obj/contrast*.o "$out"/obj/select.o \
    --cudart static -Xlinker --exclude-libs,ALL -Xlinker -Bsymbolic -ldl -lpthread -lrt || return 1
  nvcc $flags $x86 -I"$ROOT/native/cuda" -I"$ROOT/native/kernels" "$ROOT/native/cuda/test/ac_cuda_tests.cu" \
    -o "$out/ac_cuda_tests" -L"$out" -lautocontrast_cuda "$out/libac_kernels.a" --cudart static \
    -Xlinker -rpath,"$out" -lpthread -ldl &
  local t=$!
  nvcc $flags $x86 -I"$ROOT/native/cuda" -I"$ROOT/native/kernels" "$ROOT/native/cuda/bench/ac_cuda_bench.cu" \
    -o "$out/ac_cuda_bench" -L"$out" -lautocontrast_cuda "$out/libac_kernels.a" --cudart static \
    -Xlinker -rpath,"$out" -lpthread -ldl
  local rb=$?
  wait $t && [ $rb -eq 0 ]
}

BIN=""
CMAKE_BIN=""
[ "${AC_FORCE_NVCC:-0}" = 1 ] || CMAKE_BIN=$(find_cmake)
if [ -n "$CMAKE_BIN" ]; then
  export -f build_cmake
  export ROOT BUILD ARCHS
  if run_step build 180 bash -c "build_cmake '$CMAKE_BIN'"; then
    BIN=$BUILD/native/cuda
  else
    log "cmake build failed; trying nvcc directly"
  fi
fi
if [ -z "$BIN" ]; then
  export -f build_nvcc
  export ROOT BUILD ARCHS
  if run_step build_nvcc 180 bash -c build_nvcc; then BIN=$BUILD/nvcc; fi
fi
[ "$DRY" = 1 ] && BIN=${BIN:-$BUILD/native/cuda}

if [ -n "$BIN" ]; then
  LIB=$BIN/libautocontrast_cuda.so
  # ---- kernel tests (full set) ----
  run_step tests 100 "$BIN/ac_cuda_tests"
  # ---- benchmark ----
  run_step bench 70 "$BIN/ac_cuda_bench" --out "$RES/bench.json"
  # ---- PyTorch reference: speedup and cross-check through the device-pointer ABI ----
  if timeout 30 python3 -c 'import torch' > /dev/null 2>&1 || [ "$DRY" = 1 ]; then
    run_step torch_reference 60 python3 "$ROOT/scripts/device/torch_reference.py" --lib "$LIB" \
      --bench "$RES/bench.json" --out "$RES/torch_reference.json"
  else
    log "SKIP torch_reference: PyTorch not importable"
    STEPS_JSON="$STEPS_JSON{\"step\": \"torch_reference\", \"status\": \"skipped (no torch)\"},"
  fi
  # ---- Node decode loop on device 'cuda' (test/runtime/cuda.test.mjs): only where it can run; free otherwise ----
  ORT_BIN="$ROOT/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
  NODE_SKIP=""
  if ! command -v node > /dev/null 2>&1; then NODE_SKIP="no node"
  elif [ ! -f "$ROOT/dist/runtime/index.js" ]; then NODE_SKIP="TypeScript not built (npm run build)"
  elif [ ! -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ]; then NODE_SKIP="ONNX Runtime's CUDA provider not installed"
  fi
  if [ -z "$NODE_SKIP" ] || [ "$DRY" = 1 ]; then
    run_step runtime_cuda 45 env AUTOCONTRAST_CUDA_LIB="$LIB" node "$ROOT/test/runtime/cuda.test.mjs"
  else
    log "SKIP runtime_cuda: $NODE_SKIP"
    STEPS_JSON="$STEPS_JSON{\"step\": \"runtime_cuda\", \"status\": \"skipped ($NODE_SKIP)\"},"
  fi
  # ---- compute-sanitizer memcheck on the quick set (uses what is left of the budget) ----
  SAN=$(command -v compute-sanitizer || true)
  if [ -n "$SAN" ] || [ "$DRY" = 1 ]; then
    run_step memcheck 120 "${SAN:-compute-sanitizer}" --tool memcheck --error-exitcode 9 --print-limit 20 \
      "$BIN/ac_cuda_tests" --quick
  else
    log "SKIP memcheck: compute-sanitizer not found"
    STEPS_JSON="$STEPS_JSON{\"step\": \"memcheck\", \"status\": \"skipped (no compute-sanitizer)\"},"
    FAILED=1
  fi
else
  log "no build: tests, bench and memcheck not run"
  FAILED=1
fi

TOTAL=$(( $(date +%s) - START ))
printf '{\n  "gpu": "%s",\n  "archs": "%s",\n  "total_seconds": %d,\n  "all_ok": %s,\n  "steps": [%s]\n}\n' \
  "${GPU_NAME:-unknown}" "$ARCHS" "$TOTAL" "$([ $FAILED = 0 ] && echo true || echo false)" "${STEPS_JSON%,}" \
  > "$RES/summary.json"
log "finished in ${TOTAL}s; all ok: $([ $FAILED = 0 ] && echo yes || echo no)"
exit $FAILED
