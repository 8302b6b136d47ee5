// Tokenizer throughput on ~1 MB of multilingual text (not a test; numbers go in the README).
//
//   bench_tokenizer [vocab.txt] [--runs N]
//
// The text is built deterministically from sentences in Bark's 13 preset languages plus
// emoji and special tokens. Prints the median over N runs of: vocab load time, one encode()
// of the whole text, and encode() per line (Bark's usage: short prompts). Rates are given
// for wall time and for this thread's CPU time (steadier on a busy machine).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace {

const char* const kSentences[] = {
    "Hello, my name is Suno. And, uh — and I like pizza. [laughs]",
    "It's 9:45 p.m.; the train (No. 42) leaves at 10:05 — don't be late!",
    "Größere Straßen führen über Brücken; Mädchen äßen Öl.",
    "Die Donaudampfschifffahrtsgesellschaftskapitänsmütze liegt im Schrank.",
    "¿Dónde está la biblioteca? ¡Olé! Señor Muñoz, año 2024.",
    "Bonjour, ça va ? J'espère que l'été sera très ensoleillé à Noël.",
    "नमस्ते, आप कैसे हैं? मैं ठीक हूँ। भारत एक विशाल देश है।",
    "Buongiorno! Com'è andata la giornata? Perché no, è così.",
    "こんにちは、世界。東京タワーに行きましょう！カタカナ",
    "今日はいい天気ですね。散歩に行きませんか？",
    "안녕하세요, 저는 수노입니다. 반갑습니다! 오늘 날씨가 정말 좋네요.",
    "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "Olá! Como você está? Estou bem, obrigado. Ação, coração, pão.",
    "Привет! Как дела? Съешь же ещё этих мягких французских булок.",
    "Merhaba! Nasılsın? Pijamalı hasta yağız şoföre çabucak güvendi.",
    "你好，我叫苏诺。今天天气很好！我喜欢吃披萨，也喜欢玩井字棋。",
    "I love it 😀👍🏽 so much 🎉! [MASK] [sighs] ♪ la la la ♪",
};

std::string make_text(size_t min_bytes, std::vector<std::string>& lines) {
  std::string text;
  uint64_t state = 12345;
  const size_t n = sizeof(kSentences) / sizeof(kSentences[0]);
  std::string line;
  while (text.size() < min_bytes) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    line += kSentences[(state >> 33) % n];
    if ((state >> 20) % 3 == 0) {
      lines.push_back(line);
      text += line + "\n";
      line.clear();
    } else {
      line += ' ';
    }
  }
  return text;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timing {
  double wall = 0, cpu = 0;  // seconds
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename F>
Timing measure(F&& f) {
  const double c0 = thread_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {wall, thread_cpu_seconds() - c0};
}

struct Medians {
  std::vector<double> wall, cpu;
  void add(const Timing& t) {
    wall.push_back(t.wall);
    cpu.push_back(t.cpu);
  }
};

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string vocab = BARK_DEFAULT_VOCAB;
    int runs = 7;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--runs" && i + 1 < argc) {
        runs = std::max(1, std::atoi(argv[++i]));
      } else if (arg == "-h" || arg == "--help") {
        std::printf("usage: %s [vocab.txt] [--runs N]\n", argv[0]);
        return 0;
      } else {
        vocab = arg;
      }
    }

    std::vector<std::string> lines;
    const std::string text = make_text(1 << 20, lines);

    Medians load, whole, per_line;
    size_t n_tokens = 0;
    for (int r = 0; r < runs; ++r)
      load.add(measure([&] { bark::text::Tokenizer::from_vocab_file(vocab); }));
    const auto tok = bark::text::Tokenizer::from_vocab_file(vocab);
    for (int r = 0; r < runs; ++r) {
      whole.add(measure([&] { n_tokens = tok.encode(text).size(); }));
      size_t n_line_tokens = 0;
      per_line.add(measure([&] {
        for (const auto& line : lines) n_line_tokens += tok.encode(line).size();
      }));
      if (n_line_tokens != n_tokens) {
        std::fprintf(stderr, "error: per-line token count %zu != whole-text count %zu\n",
                     n_line_tokens, n_tokens);
        return 1;
      }
    }

    const double mb = static_cast<double>(text.size()) / (1 << 20);
    const double toks = static_cast<double>(n_tokens);
    std::printf("text: %.2f MB, %zu lines, %zu tokens (%d runs, median)\n", mb, lines.size(),
                n_tokens, runs);
    std::printf("vocab load:        %8.1f ms wall, %8.1f ms CPU (%zu tokens)\n",
                median(load.wall) * 1e3, median(load.cpu) * 1e3, tok.vocab_size());
    for (const auto& [name, m] : {std::pair<const char*, const Medians*>{"whole text", &whole},
                                  {"per line  ", &per_line}}) {
      std::printf("encode %s: %8.0f tokens/s (%5.2f MB/s) wall, %8.0f tokens/s CPU\n", name,
                  toks / median(m->wall), mb / median(m->wall), toks / median(m->cpu));
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
