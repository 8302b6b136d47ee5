#!/usr/bin/env bash
# The project's test command (README; .ci/run calls exactly this):
#   set-up (scripts/setup.sh) -> configure (Release, ccache) -> build -> ctest (every label,
#   including the install + find_package(bark) consumer check).
# Exits non-zero on the first failure and prints the time of each phase.
#
# Environment:
#   BARK_BUILD_DIR=DIR     build directory (default: build/ in the clone)
#   BARK_VENV=DIR          reference venv (default ~/.cache/bark-cpp/venv), see scripts/setup.sh
#   BARK_SKIP_SETUP=1      do not run scripts/setup.sh
#   BARK_CTEST_ARGS="..."  extra ctest arguments, e.g. "-L unit" or "-E parity"
#   BARK_JOBS=N            build and ctest parallelism (default: nproc)
#   CCACHE_DIR, CCACHE_MAXSIZE   ccache location and size (default ~/.cache/ccache, 5G)
set -euo pipefail

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

begin test
# shellcheck disable=SC2086  # BARK_CTEST_ARGS is a list of words
ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error --parallel "$JOBS" ${BARK_CTEST_ARGS:-}
end
