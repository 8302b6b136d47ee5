#!/usr/bin/env python3
"""Writes a tokenizer parity corpus: strings plus the ids the real transformers BertTokenizer
gives them, for tests/test_tokenizer.cpp ("[parity] generated corpus").

Run it with the reference venv's python (scripts/setup.sh):

    ~/.cache/bark-cpp/venv/bin/python scripts/gen_tokenizer_corpus.py \
        --vocab ../shared/bark-assets/vocab/bert-base-multilingual-cased-vocab.txt \
        --out /tmp/tokenizer_corpus.tsv

The tokenizer is built from the local vocab file (no network). With do_lower_case=False,
tokenize_chinese_chars=True and strip_accents=None it is what
BertTokenizer.from_pretrained("bert-base-multilingual-cased") builds: the hub's
tokenizer_config.json only sets do_lower_case=false, everything else is a default.

Output: '#'-prefixed metadata lines, then one tab-separated line per case:
    label  hex(utf8(text))  ids  hex(utf8(normalized))  bark_ids  dropped_percent
where ids = tokenizer.encode(text, add_special_tokens=False), normalized =
bark.generation._normalize_whitespace(text), bark_ids = encode(normalized) (before Bark's
+10048 offset, not truncated), dropped_percent = Bark's round((n - 256) / n * 100, 1) or 0.
ids lists are space-separated ("" for none). Everything is seeded: same seed, same file.
"""

import argparse
import random
import re
import sys
import time
import unicodedata

# --- hand-written seed sentences, the 13 languages of Bark's presets ------------------------
SENTENCES = {
    "en": [
        "Hello, my name is Suno. And, uh — and I like pizza. [laughs]",
        "But I also have other interests such as playing tic tac toe.",
        "It's 9:45 p.m.; the train (No. 42) leaves at 10:05 — don't be late!",
        "\"Quoted text,\" she said, 'and more…' [sighs] Well... okay?",
        "The quick brown fox jumps over the lazy dog #1 @home 100% & more.",
        "♪ In the jungle, the mighty jungle, the lion barrels tonight ♪",
        "e-mail: someone@example.com, URL: https://example.org/path?q=1&r=2",
        "Ms. O'Neil's co-worker paid $3.50 for a 2-for-1 deal at 7-Eleven.",
    ],
    "de": [
        "Größere Straßen führen über Brücken; Mädchen äßen Öl.",
        "Guten Morgen! Wie geht es Ihnen heute? Mir geht's gut, danke.",
        "Die Donaudampfschifffahrtsgesellschaftskapitänsmütze liegt im Schrank.",
        "„Anführungszeichen“ und »Guillemets« sind in Deutschland üblich.",
        "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    ],
    "es": [
        "¿Dónde está la biblioteca? ¡Olé! Señor Muñoz, año 2024.",
        "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío.",
        "Mañana iremos a la playa con los niños, si no llueve.",
        "«No sé», dijo él; luego añadió: —quizás mañana.",
        "La cigüeña tocaba el saxofón detrás del palenque de paja.",
    ],
    "fr": [
        "Bonjour, ça va ? J'espère que l'été sera très ensoleillé à Noël.",
        "Œuvre d'art, cœur brisé, naïveté et Noël à l'hôtel « Le Bœuf ».",
        "Où est la gare ? Je voudrais un billet aller-retour, s'il vous plaît.",
        "Portez ce vieux whisky au juge blond qui fume.",
        "L'élève a répondu : « C'était ça, la leçon d'aujourd'hui ! »",
    ],
    "hi": [
        "नमस्ते, आप कैसे हैं? मैं ठीक हूँ।",
        "भारत एक विशाल देश है, जिसकी संस्कृति बहुत पुरानी है।",
        "कृपया मुझे पानी का एक गिलास दीजिए।",
        "मुझे हिंदी में गाने सुनना पसंद है, ख़ासकर पुराने वाले।",
        "आज मौसम बहुत अच्छा है, चलो पार्क में घूमने चलें।",
    ],
    "it": [
        "Buongiorno! Com'è andata la giornata? Perché no, è così.",
        "Quel vituperabile xenofobo zelante assaggia il whisky ed esclama: alleluja!",
        "L'università è chiusa il lunedì; però la biblioteca è aperta.",
        "Più tardi andiamo al caffè a prendere un cappuccino e una brioche.",
    ],
    "ja": [
        "こんにちは、世界。東京タワーに行きましょう！カタカナ",
        "今日はいい天気ですね。散歩に行きませんか？",
        "私の名前はスノです。よろしくお願いします。",
        "ｶﾀｶﾅの半角とカタカナの全角、そして「かぎかっこ」。",
        "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
        "ガギグゲゴ、パピプペポ、ヴ。",
    ],
    "ko": [
        "안녕하세요, 저는 수노입니다. 반갑습니다!",
        "오늘 날씨가 정말 좋네요. 산책하러 갈까요?",
        "한국어는 한글로 씁니다; 세종대왕이 1443년에 만들었습니다.",
        "다람쥐 헌 쳇바퀴에 타고파.",
        "김치찌개 하나랑 공깃밥 두 개 주세요~",
    ],
    "pl": [
        "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
        "Dzień dobry! Jak się masz? Dziękuję, wszystko w porządku.",
        "Chrząszcz brzmi w trzcinie w Szczebrzeszynie.",
        "Źdźbło trawy łaskocze żółwia — to śmieszne, prawda?",
    ],
    "pt": [
        "Olá! Como você está? Estou bem, obrigado. Ação, coração, pão.",
        "À noite, vovô Kowalsky vê o ímã cair no pé do pinguim queixoso.",
        "Não sei se vou conseguir chegar a tempo; está chovendo muito.",
        "A avó é portuguesa e o avô é brasileiro — que família!",
    ],
    "ru": [
        "Привет! Как дела? Ёжик в тумане, 2023 год.",
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "В чащах юга жил бы цитрус? Да, но фальшивый экземпляр!",
        "«Ёлки-палки», — сказал он и улыбнулся.",
        "Москва — столица России; Санкт-Петербург — северная столица.",
    ],
    "tr": [
        "Merhaba! Nasılsın? İyiyim, teşekkürler. Iğdır, Şişli, Çağlayan.",
        "Pijamalı hasta yağız şoföre çabucak güvendi.",
        "İstanbul'da yaşıyorum ama Ankara'yı da çok seviyorum.",
        "Çekoslovakyalılaştıramadıklarımızdanmışsınız.",
    ],
    "zh": [
        "你好，我叫苏诺。今天天气很好！",
        "我喜欢吃披萨，也喜欢玩井字棋。",
        "中华人民共和国成立于1949年10月1日。",
        "「你吃饭了吗？」他问道。“还没有呢。”",
        "這是繁體中文的句子，還有一些標點符號：、；！？",
        "𠀀𠀁𪚥 are rare CJK Extension B characters, 丽 is a compatibility ideograph.",
    ],
}

EMOJI = [
    "😀", "👍🏽", "🎉", "❤️", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵", "1️⃣", "#️⃣", "🧑🏿‍💻", "🤷‍♀️",
    "☕", "✨", "🐱", "🙏🏻", "😂😂😂", "👩🏽‍🚀", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "©️", "™", "↔️",
]

BARK_CUES = ["[laughter]", "[laughs]", "[sighs]", "[music]", "[gasps]", "[clears throat]",
             "—", "...", "♪", "CAPITALIZATION", "[MAN]", "[WOMAN]", "…"]

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Characters transformers treats specially: controls, format, whitespace, replacement, etc.
ODD_CHARS = (
    [chr(c) for c in range(0x00, 0x20)] + ["\x7f", "\x85", "\xa0", "\xad", "\u034f", "\u061c",
    "\u1680", "\u180e", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2028", "\u2029",
    "\u202a", "\u202e", "\u202f", "\u205f", "\u2060", "\u2066", "\u3000", "\ufeff", "\ufffd",
    "\ufffe", "\uffff", "\ue000", "\U000f0000", "\U0010fffd", "\U000e0001", "\U000e0041",
    "\ufff9", "\U0001d173"] + [chr(c) for c in range(0x2000, 0x200b)] +
    ["\x1c", "\x1d", "\x1e", "\x1f", "\x0b", "\x0c"]
)

COMBINING = [chr(c) for c in list(range(0x300, 0x370)) + list(range(0x483, 0x48a)) +
             list(range(0x591, 0x5c8)) + list(range(0x64b, 0x660)) + [0x93c, 0x94d, 0x901, 0x902,
             0x3099, 0x309a, 0x20d0, 0x20e3, 0x1ab0, 0x1dc0, 0xfe0f, 0xfe0e, 0x1f3fb]]

PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "¡", "¿", "«", "»", "‘", "’", "“", "”", "„", "‹", "›", "–", "—", "―", "…", "·", "•", "‰",
    "′", "※", "、", "。", "「", "」", "『", "』", "【", "】", "〈", "〉", "《", "》", "・", "！",
    "？", "，", "．", "：", "；", "（", "）", "।", "॥", "؟", "،", "۔", "׳", "״", "፡", "༄",
    "€", "£", "¥", "©", "®", "°", "±", "×", "÷", "§", "¶", "¬", "¦", "¤", "¢", "µ", "¹", "½",
    "⁇", "⸮", "﹏", "＿", "\U0001e95e", "\U00016fe2", "\U00011047",
]

# Blocks to draw "plausible" random text from.
BLOCKS = [
    (0x0020, 0x007E), (0x00A0, 0x024F), (0x0250, 0x036F), (0x0370, 0x03FF), (0x0400, 0x052F),
    (0x0530, 0x058F), (0x0590, 0x05FF), (0x0600, 0x06FF), (0x0900, 0x097F), (0x0980, 0x09FF),
    (0x0E00, 0x0E7F), (0x0F00, 0x0FFF), (0x10A0, 0x10FF), (0x1100, 0x11FF), (0x1E00, 0x1EFF),
    (0x1F00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x20CF), (0x2100, 0x218F), (0x2190, 0x23FF),
    (0x2460, 0x27BF), (0x2E80, 0x2FDF), (0x3000, 0x30FF), (0x3130, 0x318F), (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF), (0xF900, 0xFAFF),
    (0xFB00, 0xFB4F), (0xFE00, 0xFE6F), (0xFF00, 0xFFEF), (0xFFF0, 0xFFFF), (0x10000, 0x1007F),
    (0x11000, 0x1107F), (0x1D100, 0x1D1FF), (0x1D400, 0x1D7FF), (0x1F000, 0x1FAFF),
    (0x20000, 0x2A6DF), (0x2A6E0, 0x2B81F), (0x2F800, 0x2FA1F), (0x30000, 0x323AF),
    (0xE0000, 0xE01EF),
]


def rand_cp(rng, lo=0, hi=0x10FFFF):
    while True:
        c = rng.randint(lo, hi)
        if not 0xD800 <= c <= 0xDFFF:
            return chr(c)


def block_text(rng, n):
    out = []
    lo, hi = rng.choice(BLOCKS)
    for _ in range(n):
        if rng.random() < 0.15:
            lo, hi = rng.choice(BLOCKS)
        out.append(rand_cp(rng, lo, hi))
        if rng.random() < 0.12:
            out.append(" ")
    return "".join(out)


def mutate(rng, s):
    chars = list(s)
    for _ in range(rng.randint(1, 6)):
        pool = rng.choice([ODD_CHARS, COMBINING, PUNCT, EMOJI, SPECIALS, BARK_CUES])
        pos = rng.randint(0, len(chars))
        chars.insert(pos, rng.choice(pool))
    s = "".join(chars)
    r = rng.random()
    if r < 0.2:
        s = unicodedata.normalize("NFD", s)
    elif r < 0.3:
        s = unicodedata.normalize("NFKD", s)
    return s


def vocab_text(rng, vocab, n):
    parts = []
    for _ in range(n):
        t = rng.choice(vocab)
        if t.startswith("##"):
            t = t[2:]
        parts.append(t)
        parts.append(rng.choice(["", "", " ", " ", " ", "\n", "-", "\u00a0"]))
    return "".join(parts)


def make_cases(rng, vocab):
    cases = []

    def add(label, text):
        cases.append((label, text))

    all_sentences = [(lang, s) for lang, ss in SENTENCES.items() for s in ss]
    for lang, s in all_sentences:
        add("lang:" + lang, s)
        add("lang-nfd:" + lang, unicodedata.normalize("NFD", s))
        add("lang-nfkc:" + lang, unicodedata.normalize("NFKC", s))
    # Mixed scripts and separators.
    seps = [" ", "", "\n", "\t", "\r\n", "\u3000", "\u00a0", "\u2028", "\u2029", "\x1c", "\x85",
            "  ", "\u200b", "\x00", " [SEP] ", "[CLS]"]
    for _ in range(600):
        picks = rng.sample(all_sentences, rng.randint(2, 4))
        text = rng.choice(seps).join(s for _, s in picks)
        add("mixed", text)
    # Sentences with odd characters, marks, punctuation, emoji and special tokens inserted.
    for _ in range(1200):
        lang, s = rng.choice(all_sentences)
        add("mutated:" + lang, mutate(rng, s))
    # Words from the vocab itself: stresses greedy longest-match-first in every script.
    for _ in range(800):
        add("vocab", vocab_text(rng, vocab, rng.randint(1, 12)))
    # Random code points, uniform over all of Unicode and drawn from blocks.
    for _ in range(300):
        add("random-uniform", "".join(rand_cp(rng) for _ in range(rng.randint(1, 40))))
    for _ in range(700):
        add("random-blocks", block_text(rng, rng.randint(1, 60)))
    # Emoji.
    for _ in range(150):
        parts = [rng.choice(EMOJI + [" ", "a", "中", "!", "ok"]) for _ in range(rng.randint(1, 10))]
        add("emoji", "".join(parts))
    # Long words around the 100-character limit (counted after NFC).
    for n in [99, 100, 101, 102, 150, 300]:
        add("long-ascii", "a" * n)
        add("long-ascii-sentence", "Start " + "x" * n + " end.")
        add("long-cyrillic", "ж" * n)
        add("long-devanagari", ("नम" * n)[:n])
        add("long-emoji", "😀" * n)
        add("long-hangul", "한" * n)
    for n in [50, 99, 100, 101]:
        # n composed characters written as 2n code points: NFC brings it to n.
        add("long-nfc", "e\u0301" * n)
        add("long-nfc-hangul-jamo", "\u1100\u1161" * n)
        add("long-nfc-mixed", "e\u0301" * (n - 1) + "xyz")
        add("long-marks", "a" + "\u0301\u0302" * n)
    add("long-word", "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3)
    # Special tokens in every position.
    special_cases = [
        "foo[MASK]bar [CLS] x [SEP][PAD] [UNK]y [mask]", "[CLS]", "[CLS][SEP]", "[[CLS]]",
        "[CLS", "CLS]", "[ CLS]", "[CL S]", "[CL\x00S]", "[CL\u200bS]", "x[CL\x00S]", "[MASK]]",
        "[[MASK]", "[MASK][MASK][MASK]", "a[UNK]b", "[UNK]", "[unk]", "[Pad]", "[PAD ]",
        "\u3000[SEP]\u3000", "\t[SEP]\n", "é[SEP]\u0301", "e[SEP]\u0301", "中[SEP]文",
        "[SEP]\u0301", "[MAS[MASK]K]", "[\u00a0MASK]", "[MASK\u2028]", "[CLS]" * 30,
        "［CLS］", "[ＣＬＳ]", "[CLS]\u0301", "\ufeff[CLS]\ufeff",
    ]
    for s in special_cases:
        add("special", s)
    for _ in range(150):
        lang, s = rng.choice(all_sentences)
        words = s.split(" ")
        for _ in range(rng.randint(1, 4)):
            pos = rng.randint(0, len(words))
            tok = rng.choice(SPECIALS)
            if rng.random() < 0.5 and words:
                i = rng.randrange(len(words))
                words[i] = words[i] + tok  # glued to a word
            else:
                words.insert(pos, tok)
        add("special-random", " ".join(words))
    # Normalisation corner cases.
    nfc_cases = [
        "\u212b", "\u2126", "\u212a", "A\u030a", "a\u0323\u0307", "a\u0307\u0323", "\u1e0b\u0323",
        "\u0344", "\u0958", "\u2adc", "\ufb1d", "\u1100\u1161\u11a8", "\uac00\u11a8", "\u1100\uac00",
        "\u0f73", "\u0f77", "q\u0307\u0323", "\u00c5\u0301", "\U0001d15e", "\U0001d160",
        "\uf900", "\uf900\u0301", "\ufa0e\ufa0f", "\U0002f800", "\U0002f800\U0002fa1d",
        "中\u0301", "\u0301中", "a\u0301中\u0301b", "\u0915\u093c", "\u09c7\u09be",
        "\u0b47\u0b3e", "\u1025\u102e", "\u3099\u304b\u3099", "\u304b\u3099\u309a", "\u30cf\u309a",
        "\u0627\u0653", "\u05d0\u05b7", "e\u0301\u0301\u0301", "\u0041\u0300\u0316",
        "\u00e9" * 3, "\u037e", "\u0387", "\u2000\u2001a", "\u1fee", "\u0385",
    ]
    for s in nfc_cases:
        add("nfc", s)
        add("nfc-in-word", "x" + s + "y")
    # Every canonical decomposition in planes 0-3, written decomposed, 40 per string.
    decomposable = [chr(c) for c in range(0x40000)
                    if not 0xD800 <= c <= 0xDFFF and unicodedata.normalize("NFD", chr(c)) != chr(c)]
    for i in range(0, len(decomposable), 40):
        group = decomposable[i:i + 40]
        add("nfd-all", " ".join(unicodedata.normalize("NFD", c) for c in group))
        add("nfd-all-word", "".join(unicodedata.normalize("NFD", c) for c in group[:20]))
    # Bark whitespace normalisation.
    ws = ["\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f", " ", "\x85", "\xa0",
          "\u1680", "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
          "\u200b", "\u180e", "\ufeff"]
    for _ in range(150):
        parts = []
        for _ in range(rng.randint(1, 8)):
            parts.append("".join(rng.choice(ws) for _ in range(rng.randint(0, 3))))
            parts.append(rng.choice(["a", "word", "中", "[CLS]", "é", "x.y"]))
        parts.append("".join(rng.choice(ws) for _ in range(rng.randint(0, 3))))
        add("whitespace", "".join(parts))
    # Texts over Bark's 256-token limit, for the truncation percentage.
    for k in range(25):
        picks = [rng.choice(all_sentences)[1] for _ in range(8 + 3 * k)]
        add("long-text", " ".join(picks))
    add("empty", "")
    add("only-space", " \t\n ")
    return cases


def exhaustive_cases(rng):
    """Every code point of planes 0-3 and 14, and a sample of the rest: 256 per string,
    once space-separated and once (for the non-space ones) as runs of 25."""
    cases = []
    ranges = [(0, 0x40000), (0xE0000, 0xE1000)]
    for lo, hi in ranges:
        for start in range(lo, hi, 256):
            cps = [chr(c) for c in range(start, min(hi, start + 256)) if not 0xD800 <= c <= 0xDFFF]
            cases.append(("codepoints", " ".join(cps)))
            cases.append(("codepoints-runs",
                          " ".join("".join(cps[i:i + 25]) for i in range(0, len(cps), 25))))
    for _ in range(100):
        cases.append(("codepoints-sample",
                      " ".join(rand_cp(rng, 0x40000, 0x10FFFF) for _ in range(100))))
    return cases


def normalize_whitespace_fallback(text):
    return re.sub(r"\s+", " ", text).strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", required=True, help="bert-base-multilingual-cased vocab.txt")
    ap.add_argument("--out", required=True, help="output .tsv")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--no-exhaustive", action="store_true",
                    help="skip the every-code-point cases (faster)")
    args = ap.parse_args()

    t0 = time.time()
    import transformers
    from transformers import BertTokenizer

    try:  # Bark's own function if the bark package is importable, else the same regex.
        from bark.generation import _normalize_whitespace as normalize_whitespace
        normalize_source = "bark.generation._normalize_whitespace"
    except Exception:  # noqa: BLE001 - any import problem: fall back
        normalize_whitespace = normalize_whitespace_fallback
        normalize_source = "re.sub(r'\\s+', ' ', text).strip()"

    tok = BertTokenizer(vocab_file=args.vocab, do_lower_case=False, tokenize_chinese_chars=True,
                        strip_accents=None)
    vocab = list(tok.vocab.keys())
    rng = random.Random(args.seed)
    cases = make_cases(rng, vocab)
    if not args.no_exhaustive:
        cases += exhaustive_cases(rng)

    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("# generator: scripts/gen_tokenizer_corpus.py\n")
        f.write(f"# transformers: {transformers.__version__}\n")
        f.write(f"# python: {sys.version.split()[0]}\n")
        f.write(f"# python_unicodedata_version: {unicodedata.unidata_version}\n")
        f.write(f"# normalize_whitespace: {normalize_source}\n")
        f.write(f"# seed: {args.seed}\n")
        f.write(f"# cases: {len(cases)}\n")
        for label, text in cases:
            ids = tok.encode(text, add_special_tokens=False)
            norm = normalize_whitespace(text)
            bark_ids = tok.encode(norm, add_special_tokens=False)
            n = len(bark_ids)
            dropped = round((n - 256) / n * 100, 1) if n > 256 else 0
            f.write("\t".join([
                label,
                text.encode("utf-8").hex(),
                " ".join(map(str, ids)),
                norm.encode("utf-8").hex(),
                " ".join(map(str, bark_ids)),
                repr(float(dropped)),
            ]) + "\n")
    print(f"wrote {len(cases)} cases to {args.out} in {time.time() - t0:.1f}s "
          f"(transformers {transformers.__version__}, unicodedata {unicodedata.unidata_version})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
