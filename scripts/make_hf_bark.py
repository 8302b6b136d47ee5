#!/usr/bin/env python3
"""Writes Bark checkpoints in the Hugging Face transformers layout (what `suno/bark` and
`suno/bark-small` hold on the hub), converted from upstream-format checkpoints the way
transformers' models/bark/convert_suno_to_hf.py and models/encodec/convert_encodec_checkpoint_to_pytorch.py
convert them, then saved with BarkModel.save_pretrained.

Used by tests/test_hf_bark.cpp on the tiny fixture models (../shared/fixtures/models/f0); runs in
the reference venv (transformers 4.46, torch 1.13):

  python scripts/make_hf_bark.py --models ../shared/fixtures/models/f0 \
      --voice ../shared/bark-assets/prompts/v2/en_speaker_6.npz --vocab vocab.txt --out /tmp/hf

writes, under --out:
  safetensors/   config.json, generation_config.json, model.safetensors (the default)
  bin/           the same with pytorch_model.bin (safe_serialization=False)
  sharded/       model-0000i-of-0000n.safetensors + model.safetensors.index.json
  sharded_bin/   pytorch_model-0000i-of-0000n.bin + pytorch_model.bin.index.json
each with vocab.txt and speaker_embeddings_path.json + speaker_embeddings/v2/en_speaker_6_*.npy
(the voice preset's three arrays, laid out as BarkProcessor.save_pretrained writes them).
"""
import argparse
import json
import os
import shutil

import numpy as np
import torch
from transformers import BarkConfig, BarkModel, EncodecConfig

# convert_suno_to_hf.py new_layer_name_dict, applied in this order to each key.
NEW_LAYER_NAMES = [
    ("c_attn", "att_proj"),
    ("c_proj", "out_proj"),
    ("c_fc", "in_proj"),
    ("transformer.", ""),
    ("h.", "layers."),
    ("ln_1", "layernorm_1"),
    ("ln_2", "layernorm_2"),
    ("ln_f", "layernorm_final"),
    ("wpe", "position_embeds_layer"),
    ("wte", "input_embeds_layer"),
]


def load_bark(path):
    """An upstream Bark checkpoint -> (HF sub-config dict, HF state dict)."""
    ck = torch.load(path, map_location="cpu")
    args = dict(ck["model_args"])
    if "input_vocab_size" not in args:  # generation.py _load_model's fix-up
        args["input_vocab_size"] = args["output_vocab_size"] = args.pop("vocab_size")
    config = {
        "block_size": args["block_size"],
        "input_vocab_size": args["input_vocab_size"],
        "output_vocab_size": args["output_vocab_size"],
        "num_layers": args["n_layer"],
        "num_heads": args["n_head"],
        "hidden_size": args["n_embd"],
        "dropout": args.get("dropout", 0.0),
        "bias": args.get("bias", True),
    }
    for key in ("n_codes_total", "n_codes_given"):
        if key in args:
            config[key] = args[key]
    state = {}
    for k, v in ck["model"].items():
        k = k[len("_orig_mod."):] if k.startswith("_orig_mod.") else k
        for old, new in NEW_LAYER_NAMES:
            k = k.replace(old, new)
        state[k] = v
    return config, state


def encodec_name(k):
    """Upstream encodec state-dict name -> transformers EncodecModel name (MAPPING_24K)."""
    if k.startswith("quantizer.vq.layers."):
        return k.replace("quantizer.vq.layers.", "quantizer.layers.").replace("._codebook.", ".codebook.")
    k = k.replace(".model.", ".layers.")
    for old in (".conv.conv.", ".convtr.convtr."):
        k = k.replace(old, ".conv.")
    return k


def load_codec(models_dir):
    with open(os.path.join(models_dir, "codec_config.json")) as f:
        c = json.load(f)
    enc, q, m = c["encoder"], c["quantizer"], c["model"]
    config = EncodecConfig(
        target_bandwidths=m["target_bandwidths"], sampling_rate=m["sample_rate"], audio_channels=m["channels"],
        normalize=m["normalize"], hidden_size=enc["dimension"], num_filters=enc["n_filters"],
        num_residual_layers=enc["n_residual_layers"], upsampling_ratios=enc["ratios"], norm_type=enc["norm"],
        kernel_size=enc["kernel_size"], last_kernel_size=enc["last_kernel_size"],
        residual_kernel_size=enc["residual_kernel_size"], dilation_growth_rate=enc["dilation_base"],
        use_causal_conv=enc["causal"], pad_mode=enc["pad_mode"], compress=enc["compress"],
        num_lstm_layers=enc["lstm"], codebook_size=q["bins"], use_conv_shortcut=not enc["true_skip"])
    state = torch.load(os.path.join(models_dir, "codec.pt"), map_location="cpu")
    state = {encodec_name(k): v for k, v in state.items()}
    return config, state


def load_strict(module, state, what):
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(".attn.bias")]  # causal masks: HF builds its own
    if missing or unexpected:
        raise SystemExit(f"{what}: missing {missing}, unexpected {unexpected}")


def write_voice(voice_npz, name, out):
    os.makedirs(os.path.join(out, "speaker_embeddings", os.path.dirname(name)), exist_ok=True)
    arrays = np.load(voice_npz)
    entry = {}
    for key in ("semantic_prompt", "coarse_prompt", "fine_prompt"):
        rel = os.path.join("speaker_embeddings", f"{name}_{key}.npy")
        np.save(os.path.join(out, rel), arrays[key], allow_pickle=False)
        entry[key] = rel
    # as on the hub: repo_or_path names the repo, the paths are relative to its root
    with open(os.path.join(out, "speaker_embeddings_path.json"), "w") as f:
        json.dump({"repo_or_path": "suno/bark-small", name: entry}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="dir with text.pt coarse.pt fine.pt codec.pt codec_config.json")
    ap.add_argument("--voice", required=True, help="v2/en_speaker_6.npz (written as that preset)")
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    torch.manual_seed(0)
    semantic, s_state = load_bark(os.path.join(a.models, "text.pt"))
    coarse, c_state = load_bark(os.path.join(a.models, "coarse.pt"))
    fine, f_state = load_bark(os.path.join(a.models, "fine.pt"))
    codec, e_state = load_codec(a.models)
    config = BarkConfig(semantic_config=semantic, coarse_acoustics_config=coarse, fine_acoustics_config=fine,
                        codec_config=codec.to_dict())
    model = BarkModel(config).eval()
    load_strict(model.semantic, s_state, "semantic")
    load_strict(model.coarse_acoustics, c_state, "coarse")
    load_strict(model.fine_acoustics, f_state, "fine")
    load_strict(model.codec_model, e_state, "codec")
    model.tie_weights()

    for sub, kwargs in (("safetensors", {}), ("bin", {"safe_serialization": False}),
                        ("sharded", {"max_shard_size": "4MB"}),
                        ("sharded_bin", {"max_shard_size": "4MB", "safe_serialization": False})):
        out = os.path.join(a.out, sub)
        shutil.rmtree(out, ignore_errors=True)
        model.save_pretrained(out, **kwargs)
        shutil.copyfile(a.vocab, os.path.join(out, "vocab.txt"))
        write_voice(a.voice, "v2/en_speaker_6", out)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
