// bark-cli: text -> 24 kHz speech with Bark, and `bark-cli download` for the model files.
// Thin by design: options fill PipelineOptions / GenerationOptions; all model logic is in libbark.
// Exit codes: 0 ok, 2 usage or invalid input (std::invalid_argument), 1 anything else.
//
// Built twice (tools/CMakeLists.txt): as `bark-cli` with BARK_CLI_FRONT, torch-free, which
// answers --help, --version, --print-tokens, --print-segments and `download` itself and hands
// everything else to the second build, `bark-cli-torch` (linked with libbark and so libtorch),
// by exec with the same arguments. Loading libtorch costs ~0.5 s and ~150 MB (docs/CLI.md).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "bark/errors.h"
#include "bark/logging.h"
#include "bark/options.h"
#include "bark/speech.h"
#include "bark/version.h"
#include "cli_lines.h"
#include "clone_command.h"  // run_clone is only called (and linked) in bark-cli-torch
#include "download/download_command.h"
#include "cli/cli_helpers.h"
#include "download/progress.h"
#ifdef BARK_CLI_FRONT
#include "model_files.h"      // torch-free internals, for --print-tokens / --print-segments
#include "text/segment.h"
#include "text/tokenizer.h"
#else
#include "bark/bark.h"
#endif

namespace {

// --print-segments: what will be spoken, one generation per output line; with --lines each is
// prefixed by the file it goes to (a line longer than a segment is several generations).
template <typename SegmentsOf>
void print_segment_plan(const std::string& text, bool lines, SegmentsOf segments_of) {
  if (!lines) {
    for (const auto& segment : segments_of(text)) std::printf("%s\n", segment.c_str());
    return;
  }
  const auto requests = bark::tools::request_lines(text);
  for (size_t i = 0; i < requests.size(); ++i) {
    for (const auto& segment : segments_of(requests[i])) {
      std::printf("%s\t%s\n", bark::tools::line_file_name(i, requests.size()).c_str(), segment.c_str());
    }
  }
}

using bark::cli::check_wav_extension;
using bark::cli::download_advice;
using bark::cli::env_switch;
using bark::cli::parse_double;
using bark::cli::parse_seed;
using bark::cli::probability;
using bark::cli::TEMPERATURE;
using bark::cli::THREADS;

constexpr const char* EXAMPLES = R"(
Examples:
  bark-cli download                  # large models, EnCodec, vocab, voices -> ~/.cache/bark-cpp
  bark-cli clone me.flac -o me.npz   # your voice from ~10 s of speech (download --only clone first)
  bark-cli "Hello, my dog is cute [laughs]" --voice v2/en_speaker_6 -o dog.wav
  echo "♪ In the jungle ♪" | bark-cli --text-file - --small --seed 42 -o jungle.wav
  bark-cli "Hi there." --seed 0 --save-prompt hi.npz --format f32 -o hi.wav
  bark-cli "And again." --voice hi.npz -o again.wav      # reuse a saved voice
  bark-cli --print-tokens "Hello, world!"                # tokenizer ids; loads no model
  bark-cli --text-file story.txt --voice v2/en_speaker_6 -o story.wav   # a whole file, in segments
  bark-cli --text-file story.txt -o - | aplay            # streamed WAV: plays as segments are ready
  bark-cli --text-file story.txt --print-segments        # how the text will be split; loads no model
  bark-cli --text-file lines.txt --lines --seed 7 -o out/  # each line its own file: out/0001.wav, ...
  bark-cli -- download                                   # say the word "download" (-- ends the options)

Exit codes: 0 ok, 2 usage or invalid input, 1 missing or unreadable files and other failures,
130 interrupted. Environment: BARK_MODEL_DIR, BARK_LOG_LEVEL, and upstream Bark's
SUNO_USE_SMALL_MODELS, SUNO_OFFLOAD_CPU, SUNO_ENABLE_MPS (docs/CLI.md).
)";

#ifndef BARK_CLI_FRONT
// SIGINT / SIGTERM: the running generation stops at its next step, nothing is written.
std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted = true; }
#endif

void print_error(const std::string& what) {
  std::string line = what;
  for (char& c : line) c = c == '\n' ? ' ' : c;
  std::fprintf(stderr, "error: %s\n", line.c_str());
}

// The most text bark-cli reads (--text-file, stdin): about 19 hours of speech per MiB, so 16 MiB
// is far beyond any sensible input; /dev/zero or a wrong file is refused after that many bytes.
constexpr size_t kMaxTextBytes = size_t{16} << 20;

std::string read_text(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw std::runtime_error("cannot read text file '" + path + "': it is a directory");
    file.open(path, std::ios::binary);
    if (!file) throw std::runtime_error("cannot read text file '" + path + "': " + std::strerror(errno));
    in = &file;
  }
  std::string text;
  char buf[65536];
  try {
    while (*in) {
      in->read(buf, sizeof buf);
      text.append(buf, static_cast<size_t>(in->gcount()));
      if (text.size() > kMaxTextBytes) {
        throw std::invalid_argument("text file '" + path + "' is larger than 16 MiB, the most bark-cli reads");
      }
    }
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {  // libstdc++ throws basic_filebuf::underflow on read errors
    throw std::runtime_error("error reading text from '" + path + "': " + std::strerror(errno));
  }
  if (in->bad()) throw std::runtime_error("error reading text from '" + path + "'");
  return text;
}

// Whether two output paths end in the same file (through symlinks and "..", existing or not).
bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  const auto resolve = [](fs::path p) {  // a symlink to a file not yet written counts as that file
    std::error_code ec;
    for (int hops = 0; hops < 40 && fs::is_symlink(p, ec); ++hops) {
      const fs::path target = fs::read_symlink(p, ec);
      if (ec) break;
      p = target.is_absolute() ? target : p.parent_path() / target;
    }
    const fs::path c = fs::weakly_canonical(p, ec);
    return ec ? p.lexically_normal() : c;
  };
  return resolve(a) == resolve(b);
}

#ifndef BARK_CLI_FRONT
// Fails before any model loads when `path` could not be written at the end.
void check_writable(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw std::runtime_error("cannot write '" + path + "': it is a directory");
  if (!fs::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0) {
    throw std::runtime_error("cannot write '" + path + "': directory '" + dir.string() + "' is missing or not writable");
  }
}

// `-o - > file.wav`: stdout is a regular file after all, so the streaming header's unknown sizes
// (0xFFFFFFFF) are replaced by the real ones, as a WAV written to a file has them.
void fix_stream_header(bark::WavFormat format, uint64_t data_bytes) {
  std::fflush(stdout);
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) return;
  const uint64_t bytes_per_sample = format == bark::WavFormat::Pcm16 ? 2 : 4;
  std::string header;
  try {
    header = bark::wav_header(24000, format, data_bytes / bytes_per_sample);
  } catch (const std::invalid_argument&) {
    return;  // beyond a RIFF file's 4 GiB: the streaming sizes stay
  }
  if (static_cast<uint64_t>(st.st_size) != header.size() + data_bytes) return;  // not only our stream
  if (::pwrite(STDOUT_FILENO, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) return;
}
#endif

#ifndef BARK_CLI_FRONT
// The generation: everything bark-cli does with the models.
int generate(const CLI::App& app, const std::string& text_in, const std::string& text_file, bark::PipelineOptions pipe_opts,
             bark::GenerationOptions gen, bark::SpeechOptions speech, const std::string& output, const std::string& save_prompt,
             const std::string& format, bool silent, bool bars, bool offload_from_env, bool lines, int max_batch) {
  std::string text = text_in;
  if (!text_file.empty()) text = read_text(text_file);
  const bool to_stdout = output == "-";
  if (to_stdout && ::isatty(STDOUT_FILENO)) {
    throw std::invalid_argument("-o -: stdout is a terminal; pipe it (| aplay, | ffmpeg -i - out.mp3) or redirect it");
  }
  if (!to_stdout && !lines) check_writable(output);
  if (!to_stdout && !text_file.empty() && text_file != "-") {
    std::error_code ec;
    if (std::filesystem::equivalent(text_file, output, ec)) {
      throw std::invalid_argument("-o '" + output + "' is the text file itself; choose another output");
    }
  }
  if (!save_prompt.empty()) check_writable(save_prompt);
  gen.silent = silent;
  const bark::WavFormat wav_format = format == "f32" ? bark::WavFormat::Float32 : bark::WavFormat::Pcm16;
  std::unique_ptr<bark::tools::ProgressBar> bar;
  std::string bar_label;
  gen.on_progress = [&](const bark::Progress& p) {
    if (g_interrupted) return false;
    if (!bars) return true;
    std::string label = bark::stage_name(p.stage);
    if (p.segment_count > 1) {
      label = "[" + std::to_string(p.segment + 1) + "/" + std::to_string(p.segment_count) + "] " + label;
    }
    if (label != bar_label) bar = std::make_unique<bark::tools::ProgressBar>(bar_label = label, true);
    bar->update(p.done, p.total);
    return true;
  };
  speech.generation = gen;
  uint64_t streamed_bytes = 0;  // data bytes sent to stdout
  if (to_stdout) {
    const std::string header = bark::wav_stream_header(24000, wav_format);
    if (std::fwrite(header.data(), 1, header.size(), stdout) != header.size()) {
      throw std::runtime_error("cannot write to stdout");
    }
    speech.on_audio = [&](const bark::AudioChunk& chunk) {
      const std::string bytes = bark::wav_encode_samples(chunk.samples, wav_format);
      streamed_bytes += bytes.size();
      if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0) {
        throw std::runtime_error("writing audio to stdout failed (the reader closed the pipe?)");
      }
      return !g_interrupted;
    };
    ::signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error, reported above
  }
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  const bark::Pipeline pipe(pipe_opts);
  if (pipe_opts.offload_cpu && pipe.device() == bark::Device::Cpu) {
    std::fprintf(stderr, "warning: %s does nothing on the CPU (it keeps idle models off the GPU)\n",
                 app.count("--offload") > 0 || !offload_from_env ? "--offload" : "SUNO_OFFLOAD_CPU");
  }
  if (lines) {  // every non-empty line its own request, in batches (cli_lines.h)
    bark::tools::LinesJob job;
    job.text = text;
    job.out_dir = output;
    job.speech = speech;
    job.speech.generation.on_progress = [](const bark::Progress&) { return !g_interrupted; };
    job.seed = gen.seed;
    job.max_batch = max_batch;
    job.format = wav_format;
    job.silent = silent;
    job.interrupted = [] { return g_interrupted.load(); };
    const int rc = bark::tools::speak_lines(pipe, job);
    if (rc == 130) print_error("interrupted; the files listed above were written, the others were not");
    return rc;
  }
  bark::SpeechResult result;
  try {
    result = pipe.generate_speech(text, speech);
  } catch (const bark::Cancelled&) {
    if (!g_interrupted) throw;
    bar.reset();
    print_error(to_stdout ? "interrupted; the WAV stream on stdout is incomplete" : "interrupted; nothing was written");
    return 130;
  }
  bar.reset();
  if (result.text_dropped_percent > 0) {
    std::fprintf(stderr, "warning: the text is longer than Bark reads in one generation (256 tokens): the last "
                         "%.1f%% was not spoken; drop --split none to speak all of it\n",
                 result.text_dropped_percent);
  }
  if (g_interrupted && !to_stdout) {  // after the last step, before anything is written
    print_error("interrupted; nothing was written");
    return 130;
  }
  // From here a signal ends the program as by default; the library then removes its
  // temporary files (io/atomic_file.h), so an interrupted write leaves the targets untouched.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  if (!to_stdout) bark::write_wav(output, result.audio, wav_format);
  else fix_stream_header(wav_format, streamed_bytes);
  if (!save_prompt.empty()) bark::save_as_prompt(save_prompt, result.final_history);
  if (!silent) {
    std::fprintf(stderr, "saved %s (%.2f s of audio%s)\n", to_stdout ? "to stdout" : output.c_str(),
                 result.audio.duration_seconds(),
                 result.segments.size() > 1 ? (", " + std::to_string(result.segments.size()) + " segments").c_str() : "");
  }
  if (!silent && !save_prompt.empty()) {
    const auto& h = result.final_history;
    std::fprintf(stderr, "saved %s (history prompt%s: %zu semantic tokens, %lld x %lld coarse and %lld x %lld fine codes)\n",
                 save_prompt.c_str(), result.segments.size() > 1 ? " of the last segment" : "", h.semantic_prompt.size(),
                 static_cast<long long>(h.coarse_prompt.n_codebooks), static_cast<long long>(h.coarse_prompt.n_frames),
                 static_cast<long long>(h.fine_prompt.n_codebooks), static_cast<long long>(h.fine_prompt.n_frames));
  }
  return 0;
}
#else
// bark-cli-torch: next to bark-cli in the build tree, in ../libexec/bark-cpp/ when installed.
std::string backend_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw std::runtime_error("cannot find bark-cli's own path (/proc/self/exe)");
  const std::filesystem::path dir = std::filesystem::path(std::string(buf, static_cast<size_t>(n))).parent_path();
  for (const auto& p : {dir / "bark-cli-torch", dir / ".." / "libexec" / "bark-cpp" / "bark-cli-torch"}) {
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  throw std::runtime_error("bark-cli-torch not found next to bark-cli (" + dir.string() + ") nor in " +
                           (dir / ".." / "libexec" / "bark-cpp").lexically_normal().string() + ": reinstall bark-cli");
}

// Hands the run to bark-cli-torch. OMP_WAIT_POLICY=PASSIVE goes into its environment here, so
// it need not restart itself for it (bark/passive_openmp.h).
[[noreturn]] void exec_backend(char** argv) {
  const std::string path = backend_path();
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
  ::execv(path.c_str(), argv);
  throw std::runtime_error("cannot run " + path + ": " + std::strerror(errno));
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bark-cli: text to speech with Suno's Bark, in C++", "bark-cli"};
  app.footer(EXAMPLES);
  app.set_version_flag("--version", std::string("bark-cli ") + bark::version());
  bark::PipelineOptions pipe_opts;
  bark::GenerationOptions gen;
  std::string text, text_file, output = "bark_generation.wav", output_dir, device = "auto", save_prompt, format = "pcm16";
  std::string precision = "fp32", seed = "-1";
  double fine_temp = 0.5;
  bool silent = false, print_tokens = false, print_segments = false, lines = false;
  int max_batch = 8;
  bark::SpeechOptions speech;
  std::string split = "sentences", voice_mode = "auto";
  int verbose = 0;
  auto* text_opt = app.add_option("TEXT,--text", text, "Text to speak (UTF-8); [laughs], [music], ♪ ... ♪ work as in Bark")
                       ->type_name("TEXT");
  app.add_option("--text-file", text_file, "Read the text from PATH ('-' = stdin)")->excludes(text_opt)->type_name("PATH");
  app.add_option("-o,--output,--output_filename", output, "Output WAV file (24 kHz mono); '-' streams WAV to stdout")
      ->capture_default_str()->type_name("PATH");
  app.add_option("--output_dir", output_dir, "Directory for -o, created if missing (as upstream Bark's --output_dir)")
      ->type_name("DIR");
  app.add_option("--voice,--history_prompt", gen.voice,
                 "Voice preset (v2/en_speaker_6, announcer, ...) or history prompt PATH.npz")->type_name("NAME|PATH.npz");
  app.add_option("--text-temp,--text_temp", gen.text_temp, "Temperature of the semantic stage")
      ->capture_default_str()->check(TEMPERATURE)->type_name("T");
  app.add_option("--waveform-temp,--waveform_temp", gen.waveform_temp, "Temperature of the coarse stage")
      ->capture_default_str()->check(TEMPERATURE)->type_name("T");
  app.add_option("--fine-temp", fine_temp, "Temperature of the fine stage (0: argmax, no sampling)")
      ->capture_default_str()->type_name("T")
      ->check(CLI::Validator([](std::string& s) -> std::string {
        double v = 0;
        if (parse_double(s, &v) && (v == 0 || (std::isfinite(v) && v >= bark::MIN_TEMPERATURE))) return "";
        return "temperature must be 0 (argmax) or a number >= 0.0001, got '" + s + "'";
      }, ""));
  app.add_option("--top-k", gen.top_k, "Sample only among the K most likely tokens (semantic and coarse; default: all)")
      ->type_name("K")->check(CLI::Range(1, 100000));
  app.add_option("--top-p", gen.top_p, "Nucleus sampling: the most likely tokens up to probability P (default: off)")
      ->type_name("P")->check(probability(/*zero_ok=*/false));
  app.add_option("--min-eos-p", gen.min_eos_p, "Stop the semantic stage once p(end) >= P (default: 0.2, as upstream)")
      ->type_name("P")->check(probability(/*zero_ok=*/true));
  app.add_option("--max-duration", gen.max_gen_duration_s,
                 "Stop each generation after S seconds of audio (default: Bark's 768 tokens, ~15 s)")
      ->type_name("S")->check(CLI::Range(0.02, 15.4));
  app.add_option("--seed", seed, "Seed for all sampling: same seed, same device -> same audio; -1: random")
      ->capture_default_str()->type_name("N");
  app.add_option("--model-dir", pipe_opts.model_dir, "Model directory (default: $BARK_MODEL_DIR, then ~/.cache/bark-cpp)")
      ->type_name("DIR");
  app.add_flag("--small", pipe_opts.use_small, "Use the small models (text.pt, coarse.pt, fine.pt); $SUNO_USE_SMALL_MODELS");
  app.add_option("--device", device, "auto, cpu, cuda or mps")->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "mps"}, CLI::ignore_case))->type_name("NAME");
  app.add_flag("--offload", pipe_opts.offload_cpu, "Keep idle models on the CPU (less GPU memory); $SUNO_OFFLOAD_CPU");
  app.add_option("--threads", pipe_opts.num_threads, "CPU threads (0: the number of physical cores)")
      ->capture_default_str()->check(THREADS)->type_name("N");
  app.add_option("--precision", precision,
                 "fp32: exact, same tokens as upstream Bark; fp16, int8: faster, drift (docs/PERFORMANCE.md)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "fp16", "int8"}, CLI::ignore_case))->type_name("P");
  app.add_option("--save-prompt", save_prompt, "Also save the generation as a history prompt PATH.npz")
      ->type_name("PATH.npz");
  app.add_option("--format", format, "WAV sample format: pcm16 or f32")->capture_default_str()
      ->check(CLI::IsMember({"pcm16", "f32"}))->type_name("F");
  app.add_flag("--silent", silent, "No progress bars or info lines (errors still go to stderr)");
  app.add_flag("-v,--verbose", verbose, "More logging (-vv: trace)");
  app.add_flag("--print-tokens", print_tokens, "Print the text's tokenizer ids on one line and exit; loads no model");
  // Long-form (any length of text): README "Long texts", docs/CLI.md
  app.add_option("--split", split, "sentences: speak all of the text, segment by segment; none: one generation, "
                                   "as upstream (Bark then reads only the first 256 tokens)")
      ->capture_default_str()->check(CLI::IsMember({"sentences", "none"}))->type_name("MODE");
  app.add_option("--max-segment-chars", speech.max_segment_chars, "Characters per segment")
      ->capture_default_str()->check(CLI::Range(1, 100000))->type_name("N");
  app.add_option("--voice-mode", voice_mode, "auto: the voice (or, without one, the first segment's) for every "
                                             "segment; preset: the voice for each; chain: each continues the last")
      ->capture_default_str()->check(CLI::IsMember({"auto", "preset", "chain"}, CLI::ignore_case))->type_name("MODE");
  app.add_option("--chain-reset-every", speech.chain_reset_every, "chain: back to the voice every N segments (0: never)")
      ->capture_default_str()->check(CLI::Range(0, 1000000))->type_name("N");
  app.add_option("--silence", speech.silence_s, "Seconds of silence between segments")
      ->capture_default_str()->check(CLI::Range(0.0, 60.0))->type_name("S");
  app.add_option("--crossfade", speech.crossfade_s, "Seconds of cross-fade at each join")
      ->capture_default_str()->check(CLI::Range(0.0, 2.0))->type_name("S");
  app.add_flag("--seamless", speech.seamless, "Semantic per segment, then one acoustic pass: no seams, no streaming");
  app.add_flag("--print-segments", print_segments, "Print what will be spoken, one generation per line (with --lines: FILE<TAB>segment), and exit; loads no model");

  app.add_flag("--lines", lines, "Speak each non-empty line as its own request: -o is a directory that gets "
               "0001.wav, 0002.wav, ...; line i uses seed --seed + i - 1");
  app.add_option("--max-batch", max_batch, "--lines: requests decoded together (batch size)")
      ->capture_default_str()->check(CLI::Range(1, 256))->type_name("N");

  bark::tools::DownloadOptions dl_opts;
  auto* dl = bark::tools::add_download_command(app, dl_opts, silent);
  bark::tools::CloneCommandOptions clone_opts;
  auto* clone = bark::tools::add_clone_command(app, clone_opts);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // point at the help of the subcommand the error is about
    const char* help = clone->parsed() ? "bark-cli clone --help" : dl->parsed() ? "bark-cli download --help" : "bark-cli --help";
    print_error(std::string(e.what()) + " (see " + help + ")");
    return 2;
  }

  try {
    // Upstream's environment switches (generation.py), where the option was not given.
    bool offload_from_env = false;
    if (env_switch("SUNO_USE_SMALL_MODELS")) pipe_opts.use_small = true;
    if (env_switch("SUNO_OFFLOAD_CPU") && !pipe_opts.offload_cpu) pipe_opts.offload_cpu = offload_from_env = true;
    if (env_switch("SUNO_ENABLE_MPS")) pipe_opts.enable_mps = true;
    // The library says only warnings by default; the CLI shows its per-stage lines too.
    if (verbose > 0) bark::set_log_level(verbose > 1 ? bark::LogLevel::Trace : bark::LogLevel::Debug);
    else if (silent) bark::set_log_level(bark::LogLevel::Warn);
    else if (std::getenv("BARK_LOG_LEVEL") == nullptr) bark::set_log_level(bark::LogLevel::Info);
    else bark::get_log_level();  // reads $BARK_LOG_LEVEL now: a bad value is warned about first
    const bool bars = !silent && bark::tools::stderr_is_tty();
    if (dl->parsed()) {
      if (dl_opts.model_dir.empty()) dl_opts.model_dir = pipe_opts.model_dir;  // `bark-cli --model-dir D download`
      dl_opts.small = dl_opts.small || pipe_opts.use_small;
      dl_opts.progress = bars;
      dl_opts.silent = silent;
      bark::tools::run_download(dl_opts);
      return 0;
    }
    if (clone->parsed()) {  // `bark-cli clone SAMPLE -o VOICE.npz`
#ifdef BARK_CLI_FRONT
      exec_backend(argv);
#else
      if (clone_opts.model_dir.empty()) clone_opts.model_dir = pipe_opts.model_dir;
      clone_opts.silent = clone_opts.silent || silent;
      return bark::tools::run_clone(clone_opts);
#endif
    }
    if (text_file.empty() && text_opt->count() == 0) {
      throw std::invalid_argument("no text: pass TEXT or --text-file PATH (see bark-cli --help)");
    }
    pipe_opts.device = bark::parse_device(device);
    pipe_opts.precision = bark::parse_precision(precision);
    if (print_tokens || print_segments) {
      if (!text_file.empty()) text = read_text(text_file);
#ifdef BARK_CLI_FRONT
      const auto tokenizer = bark::text::Tokenizer::from_vocab_file(bark::locate_vocab(pipe_opts.model_dir));
      if (print_segments) {
        bark::text::SegmentOptions so;
        so.max_chars = speech.max_segment_chars;
        so.max_tokens = bark::text::MAX_TEXT_TOKENS;
        print_segment_plan(text, lines, [&](const std::string& t) {
          return split == "none" ? std::vector<std::string>{bark::text::normalize_whitespace(t)}
                                 : bark::text::split_segments(t, so, &tokenizer);
        });
        return 0;
      }
      const auto ids = tokenizer.encode(bark::text::normalize_whitespace(text));
#else
      const bark::Pipeline pipe(pipe_opts);  // the vocab only: no model is loaded
      if (print_segments) {  // bark-cli's front answers this; bark-cli-torch run by hand too
        print_segment_plan(text, lines, [&](const std::string& t) {
          if (split != "none") return pipe.split_text(t, speech.max_segment_chars);
          std::istringstream words(t);  // --split none: the text as one generation, spaces collapsed
          std::string w, one;
          while (words >> w) one += (one.empty() ? "" : " ") + w;
          return std::vector<std::string>{one};
        });
        return 0;
      }
      const auto ids = pipe.tokenize(text);
#endif
      std::string line;
      for (int64_t id : ids) line += (line.empty() ? "" : " ") + std::to_string(id);
      std::printf("%s\n", line.c_str());
      return 0;
    }
    gen.seed = parse_seed(seed);
    if (fine_temp == 0) gen.fine_temp.reset();
    else gen.fine_temp = static_cast<float>(fine_temp);
    if (output.empty()) throw std::invalid_argument("-o: empty path (give a file name, or - for stdout)");
    if (app.count("--save-prompt") > 0 && save_prompt.empty()) {
      throw std::invalid_argument("--save-prompt: empty path (give a file name ending in .npz)");
    }
    if (!output_dir.empty() && output != "-") {
      std::filesystem::create_directories(output_dir);  // upstream: os.makedirs(output_dir, exist_ok=True)
      output = (std::filesystem::path(output_dir) / output).string();
    }
    if (lines) {
      if (app.count("--output") == 0) throw std::invalid_argument("--lines needs -o DIR (the directory for the files)");
      if (output == "-") throw std::invalid_argument("--lines writes one file per line: -o must be a directory, not -");
      if (!save_prompt.empty()) throw std::invalid_argument("--lines cannot be combined with --save-prompt");
      if (speech.seamless) throw std::invalid_argument("--lines cannot be combined with --seamless");
    } else if (app.count("--max-batch") > 0) {
      throw std::invalid_argument("--max-batch applies to --lines only");
    }
    if (output != "-" && !lines) check_wav_extension(output);
    if (!save_prompt.empty()) {
      if (output != "-" && same_file(output, save_prompt)) {
        throw std::invalid_argument("-o and --save-prompt name the same file '" + save_prompt +
                                    "'; the prompt would replace the audio");
      }
      const std::string npz = ".npz";
      if (save_prompt.size() < npz.size() || save_prompt.compare(save_prompt.size() - npz.size(), npz.size(), npz) != 0) {
        throw std::invalid_argument("--save-prompt: the path must end with .npz, got '" + save_prompt + "'");
      }
    }
    speech.split = split == "sentences";
    speech.voice_mode = bark::parse_voice_mode(voice_mode);
#ifdef BARK_CLI_FRONT
    exec_backend(argv);
#else
    return generate(app, text, text_file, pipe_opts, gen, speech, output, save_prompt, format, silent, bars,
                    offload_from_env, lines, max_batch);
#endif
  } catch (const bark::ModelFilesMissing& e) {
    print_error(e.what() + download_advice(e, dl->parsed() ? dl_opts.model_dir : pipe_opts.model_dir));
    return 1;
  } catch (const std::invalid_argument& e) {
    print_error(e.what());
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    print_error(e.what());
    return 1;
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  } catch (...) {
    print_error("unknown exception");
    return 1;
  }
}
