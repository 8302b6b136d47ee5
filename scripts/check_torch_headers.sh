#!/usr/bin/env bash
# Compiles (syntax only, no linking) every translation unit of a configured build against the
# headers of ANOTHER libtorch, e.g. a pytorch.org libtorch 2.x or the torch/ directory of a pip
# wheel, to catch 1.13 vs 2.x API differences without installing that libtorch.
#
#   scripts/check_torch_headers.sh TORCH_DIR [BUILD_DIR] [CXX_STD]
#     TORCH_DIR  directory with include/ (libtorch/, or site-packages/torch/ of a wheel)
#     BUILD_DIR  a configured build with compile_commands.json (default: build)
#     CXX_STD    c++17 or c++20 (default: c++20 when TORCH_DIR's TorchConfig.cmake asks for it)
# Needs the build configured with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON (scripts/test.sh does it).
set -euo pipefail

torch_dir=$(cd "${1:?usage: $0 TORCH_DIR [BUILD_DIR] [CXX_STD]}" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$(cd "${2:-${root}/build}" && pwd)
inc=${torch_dir}/include
[[ -f ${inc}/ATen/ATen.h ]] || { echo "no ${inc}/ATen/ATen.h" >&2; exit 2; }
[[ -f ${build_dir}/compile_commands.json ]] || { echo "no ${build_dir}/compile_commands.json" >&2; exit 2; }
std=${3:-}
if [[ -z $std ]]; then
  std=c++17
  grep -qs cxx_std_20 "${torch_dir}"/share/cmake/Torch/TorchConfig.cmake && std=c++20
fi
version=$(grep -hE '#define TORCH_VERSION_(MAJOR|MINOR|PATCH) ' -r "${inc}/torch" 2>/dev/null |
          awk '{ printf "%s%s", sep, $3; sep = "." }')
echo "checking against libtorch ${version:-?} headers in ${inc} (-std=${std})"

# A libtorch with its own fmt/ headers: the system fmt (spdlog's) goes first, as CMakeLists.txt does.
fmt_first=""
if [[ -f ${inc}/fmt/core.h && -d /usr/include/fmt ]]; then
  fmt_first=${build_dir}/torch_headers_check.fmt
  mkdir -p "$fmt_first"
  ln -sfn /usr/include/fmt "${fmt_first}/fmt"
fi

# Prints one line per torch-using TU: the compile command rewritten for the other headers.
python3 - "$build_dir/compile_commands.json" "$inc" "$std" "$fmt_first" <<'EOF' >"${build_dir}/torch_headers_check.cmds"
import json, shlex, sys
db, inc, std, fmt_first = sys.argv[1:5]
for entry in json.load(open(db)):
    args = shlex.split(entry["command"])
    if not any("torch" in a for a in args):  # only TUs that see the torch include dirs
        continue
    out, skip = [], False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith("-std="):
            continue
        if a in ("-isystem", "-I") and i + 1 < len(args) and ("torch" in args[i + 1] or args[i + 1] == "/usr/include"):
            skip = True  # drop the system libtorch's include dirs
            continue
        out.append(a)
    # the launcher (ccache) is not needed for a syntax check
    if out and out[0].endswith("ccache"):
        out = out[1:]
    out[1:1] = ([f"-std={std}", "-fsyntax-only"] + (["-isystem", fmt_first] if fmt_first else []) +
                ["-isystem", inc, "-isystem", f"{inc}/torch/csrc/api/include"])
    print(entry["directory"] + "\t" + entry["file"] + "\t" + shlex.join(out))
EOF

fail=0
while IFS=$'\t' read -r dir file cmd; do
  start=$(date +%s)
  if out=$(cd "$dir" && eval "$cmd -H" 2>&1); then
    # Headers must come from TORCH_DIR, never from the system libtorch.
    if leaked=$(grep -E '^\.+ /usr/(local/)?include/(ATen|c10|torch|caffe2)/' <<<"$out" | head -3) && [[ -n $leaked ]]; then
      echo "FAIL ${file#"$root"/}: system libtorch headers used:"; echo "$leaked"; fail=1
    else
      echo "ok   ${file#"$root"/} ($(( $(date +%s) - start )) s)"
    fi
  else
    echo "FAIL ${file#"$root"/}"
    grep -E 'error|required from' <<<"$out" | head -20
    fail=1
  fi
done <"${build_dir}/torch_headers_check.cmds"
exit $fail
