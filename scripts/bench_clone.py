#!/usr/bin/env python3
"""Voice-cloning time and peak RSS, bark-cli clone vs the Python recipe, side by side.

Runs, interleaved, `bark-cli clone SAMPLE` and the Python recipe of
bark-voice-cloning-HuBERT-quantizer (transformers HubertModel hidden_states[9], the quantizer,
EncodecModel.encode; torchaudio resampling) on the same model directory (the layout of README
"Voice cloning": hubert-base-ls960/, quantifier_hubert_base_ls960_14.pth,
encodec_24khz-d7cc33bc.th), each in its own process under /usr/bin/time, for each thread count.
Reports wall time of the whole process, the time of the clone itself (after loading), and
peak RSS. Note `cat /proc/loadavg` beside the numbers: the machine may be shared.

  bench_clone.py --cli build/tools/bark-cli --model-dir DIR --sample me10.flac [--threads 1,2] [--rounds 2]
(run with the reference venv's python; --recipe is the internal Python side)
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time


def recipe(model_dir, sample, threads):
    import torch

    torch.set_num_threads(threads)
    import soundfile
    import torchaudio
    import transformers
    import transformers.models.hubert.modeling_hubert as mh
    from encodec import EncodecModel
    from encodec.utils import convert_audio

    mh.is_fsdp_managed_module = lambda *a, **k: False
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from clone_reference import Quantizer

    hubert = transformers.HubertModel.from_pretrained(os.path.join(model_dir, "hubert-base-ls960")).eval()
    q = Quantizer()
    q.load_state_dict(torch.load(os.path.join(model_dir, "quantifier_hubert_base_ls960_14.pth"), map_location="cpu"))
    q.eval()
    codec = EncodecModel.encodec_model_24khz(pretrained=False)
    codec.load_state_dict(torch.load(os.path.join(model_dir, "encodec_24khz-d7cc33bc.th"), map_location="cpu"))
    codec.set_target_bandwidth(6.0)
    codec.eval()
    t0 = time.time()
    data, sr = soundfile.read(sample, dtype="float32", always_2d=True)
    wav = torch.from_numpy(data.T.copy())
    with torch.inference_mode():
        wav24 = convert_audio(wav, sr, 24000, 1)
        codes = torch.cat([f[0] for f in codec.encode(wav24.unsqueeze(0))], dim=-1).squeeze()
        wav16 = torchaudio.functional.resample(wav24, 24000, 16000)
        features = hubert(wav16, output_hidden_states=True).hidden_states[9][0]
        tokens = torch.argmax(q(features), dim=1)
    print(f"clone_seconds {time.time() - t0:.2f} tokens {tokens.shape[0]} frames {codes.shape[-1]}", flush=True)


def timed(cmd, env):
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t = time.time()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd, env=env, capture_output=True, text=True)
        wall = time.time() - t
        if p.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
        rss_mb = int(tf.read().split()[-1]) / 1024
    out = p.stdout + p.stderr
    m = re.search(r"clone_seconds ([0-9.]+)", out) or re.search(r"codes in ([0-9.]+)s", out)
    return wall, float(m.group(1)) if m else float("nan"), rss_mb


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--recipe", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.recipe:
        recipe(args.model_dir, args.sample, args.recipe)
        return
    out_npz = os.path.join(tempfile.mkdtemp(), "voice.npz")
    print(f"load before: {open('/proc/loadavg').read().strip()}")
    print("impl    threads  wall_s  clone_s  peak_rss_MB")
    for threads in [int(t) for t in args.threads.split(",")]:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
        for _ in range(args.rounds):
            for impl in ("bark-cli", "python"):
                if impl == "bark-cli":
                    cmd = [args.cli, "clone", args.sample, "-o", out_npz, "--model-dir", args.model_dir, "--threads", str(threads)]
                else:
                    cmd = [sys.executable, os.path.abspath(__file__), "--model-dir", args.model_dir, "--sample", args.sample,
                           "--recipe", str(threads)]
                wall, clone_s, rss = timed(cmd, env)
                print(f"{impl:8s} {threads:7d} {wall:7.2f} {clone_s:8.2f} {rss:12.0f}", flush=True)
    print(f"load after: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
