#!/usr/bin/env bash
# The project's test command (README; .ci/run calls exactly this):
#   setup (scripts/setup.sh) -> configure (Release, ccache) -> build -> fuzz (libFuzzer targets,
#   built with clang in $BARK_BUILD_DIR/fuzz, bounded time) -> sanitize (the torch-free unit tests,
#   bark_base_tests, built with ASan + UBSan in $BARK_BUILD_DIR/sanitize and run with leak
#   detection) -> test (ctest, every label, including the install + find_package(bark) consumer
#   check).
# Exits non-zero on the first failure and prints the time of each phase.
#
# Environment:
#   BARK_BUILD_DIR=DIR     build directory (default: build/ in the clone)
#   BARK_VENV=DIR          reference venv (default ~/.cache/bark-cpp/venv), see scripts/setup.sh
#   BARK_SKIP_SETUP=1      do not run scripts/setup.sh
#   BARK_FUZZ=0            skip the fuzz phase (it is also skipped when there is no clang++)
#   BARK_SANITIZE=0        skip the sanitize phase
#   BARK_CTEST_ARGS="..."  extra ctest arguments, e.g. "-L unit" or "-E parity"
#   BARK_JOBS=N            build and ctest parallelism (default: nproc)
#   CCACHE_DIR, CCACHE_MAXSIZE   ccache location and size (default ~/.cache/ccache, 5G)
set -euo pipefail

: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BARK_BUILD_DIR:-${ROOT}/build}
BARK_VENV=${BARK_VENV:-${HOME}/.cache/bark-cpp/venv}
JOBS=${BARK_JOBS:-$(nproc)}
export BARK_VENV

# ccache lives outside the clone so that fresh clones (CI) reuse it. BASEDIR makes the cached
# entries independent of where the clone is.
export CCACHE_DIR=${CCACHE_DIR:-${HOME}/.cache/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-${ROOT}}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
# The parity fixtures were made with one torch thread on OpenBLAS (pthread); the tests set
# torch's thread count themselves, these keep BLAS and OpenMP from adding threads of their own.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

PHASES=()
phase_start=0
phase_name=""
begin() {
  phase_name=$1
  phase_start=$(date +%s)
  printf '\n=== %s\n' "$phase_name"
}
end() {
  local secs=$(( $(date +%s) - phase_start ))
  PHASES+=("$(printf '%-10s %5d s' "$phase_name" "$secs")")
  printf '=== %s: %d s\n' "$phase_name" "$secs"
  phase_name=""
}
# "hits misses" of ccache so far (shared by every build using CCACHE_DIR).
ccache_counts() {
  ccache --print-stats 2>/dev/null | awk -F'\t' '
    $1 == "direct_cache_hit" || $1 == "preprocessed_cache_hit" { h += $2 }
    $1 == "cache_miss" { m += $2 }
    END { print h + 0, m + 0 }' || echo "0 0"
}
ccache_before=""
CTEST_LOGS=()
# Runs ctest, keeping its output for the closing count.
run_ctest() {
  local log=$1
  shift
  CTEST_LOGS+=("$log")
  ctest --output-on-failure --no-tests=error --parallel "$JOBS" "$@" 2>&1 | tee "$log"
}
summary() {
  local rc=$?
  if [[ -n $phase_name ]]; then
    PHASES+=("$(printf '%-10s %5d s  FAILED' "$phase_name" $(( $(date +%s) - phase_start )))")
  fi
  printf '\n=== time per phase\n'
  printf '  %s\n' "${PHASES[@]}"
  if [[ -n $ccache_before ]]; then
    local h0 m0 h1 m1
    read -r h0 m0 <<<"$ccache_before"
    read -r h1 m1 <<<"$(ccache_counts)"
    printf '  ccache: %d hits, %d misses in this run (%s, max %s)\n' \
      $(( h1 - h0 )) $(( m1 - m0 )) "$CCACHE_DIR" "$CCACHE_MAXSIZE"
  fi
  if (( rc == 0 )); then
    printf '=== scripts/test.sh: ok\n'
  else
    printf '=== scripts/test.sh: FAILED (exit %d)\n' "$rc"
  fi
  # ctest's "N% tests passed, F tests failed out of T", summed over the ctest runs.
  if (( ${#CTEST_LOGS[@]} > 0 )); then
    cat "${CTEST_LOGS[@]}" 2>/dev/null | awk '
      /tests passed, [0-9]+ tests? failed out of [0-9]+/ {
        for (i = 1; i <= NF; i++) { if ($i == "failed") f += $(i - 2); if ($i == "of") t += $(i + 1) }
        seen = 1 }
      END { if (seen) printf "tests: %d passed, %d failed\n", t - f, f }'
  fi
}
trap summary EXIT

begin setup
if [[ ${BARK_SKIP_SETUP:-0} == 1 ]]; then
  echo "skipped (BARK_SKIP_SETUP=1)"
else
  "${ROOT}/scripts/setup.sh"
fi
end

begin configure
generator=()
if [[ ! -f ${BUILD_DIR}/CMakeCache.txt ]] && command -v ninja >/dev/null; then
  generator=(-G Ninja)  # an existing build dir keeps the generator it was made with
fi
cmake -S "$ROOT" -B "$BUILD_DIR" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBARK_USE_CCACHE=ON \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DBARK_BUILD_TESTS=ON \
  -DBARK_BUILD_TOOLS=ON \
  -DBARK_REFERENCE_PYTHON="${BARK_VENV}/bin/python"
end

begin build
if command -v ccache >/dev/null; then ccache_before=$(ccache_counts); fi
cmake --build "$BUILD_DIR" --parallel "$JOBS"
end

begin fuzz
clangxx=$(command -v clang++-14 || command -v clang++ || true)
if [[ ${BARK_FUZZ:-1} == 0 ]]; then
  echo "skipped (BARK_FUZZ=0)"
elif [[ -z $clangxx ]] || ! command -v ninja >/dev/null; then
  echo "skipped: needs clang++ and ninja (scripts/setup.sh installs them)"
else
  # Only the fuzz targets are built here; they compile the sources they exercise themselves.
  fuzz_dir=${BUILD_DIR}/fuzz
  cmake -S "$ROOT" -B "$fuzz_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_C_COMPILER="${clangxx/++/}" \
    -DBARK_BUILD_FUZZERS=ON -DBARK_BUILD_TESTS=ON -DBARK_BUILD_TOOLS=OFF -DBARK_USE_CCACHE=ON \
    -DBARK_REFERENCE_PYTHON="${BARK_VENV}/bin/python" >"${BUILD_DIR}/fuzz-configure.log" ||
    { cat "${BUILD_DIR}/fuzz-configure.log"; exit 1; }
  mapfile -t fuzz_targets < <(ninja -C "$fuzz_dir" -t targets all |
    grep -oE '^([^:]*/)?fuzz_[A-Za-z0-9_]+:' | sed 's#.*/##; s/:$//' | sort -u)
  if (( ${#fuzz_targets[@]} == 0 )); then
    echo "no fuzz targets"
  else
    cmake --build "$fuzz_dir" --parallel "$JOBS" --target "${fuzz_targets[@]}"
    run_ctest "${BUILD_DIR}/ctest-fuzz.log" --test-dir "$fuzz_dir" -L fuzz
  fi
fi
end

begin sanitize
if [[ ${BARK_SANITIZE:-1} == 0 ]]; then
  echo "skipped (BARK_SANITIZE=0)"
else
  # Only the torch-free tests: libtorch itself is not built with sanitizers. Leaks (e.g. a cyclic
  # pickle graph) fail the run as any ASan or UBSan report does.
  san_dir=${BUILD_DIR}/sanitize
  cmake -S "$ROOT" -B "$san_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBARK_SANITIZE=address,undefined \
    -DBARK_BUILD_TESTS=ON -DBARK_BUILD_TOOLS=OFF -DBARK_USE_CCACHE=ON \
    -DBARK_REFERENCE_PYTHON="${BARK_VENV}/bin/python" >"${BUILD_DIR}/sanitize-configure.log" ||
    { cat "${BUILD_DIR}/sanitize-configure.log"; exit 1; }
  cmake --build "$san_dir" --parallel "$JOBS" --target bark_base_tests
  if ! ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$san_dir/tests/bark_base_tests" "[unit]" >"${BUILD_DIR}/sanitize.log" 2>&1; then
    tail -n 60 "${BUILD_DIR}/sanitize.log"
    echo "sanitize: bark_base_tests failed under ASan/UBSan (whole log: ${BUILD_DIR}/sanitize.log)"
    exit 1
  fi
  tail -n 3 "${BUILD_DIR}/sanitize.log"
fi
end

begin test
# shellcheck disable=SC2086  # BARK_CTEST_ARGS is a list of words
run_ctest "${BUILD_DIR}/ctest.log" --test-dir "$BUILD_DIR" ${BARK_CTEST_ARGS:-}
end
