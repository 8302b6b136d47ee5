// The `download` subcommand's options, for CLI11 (kept out of bark_cli.cpp so it stays thin).
#pragma once

#include <CLI/CLI.hpp>

#include "download/download.h"

namespace bark::tools {

// Adds `download` to `app`; parsed values land in `options` (verify_checksums included).
// `silent` is bound to the subcommand's --silent.
inline CLI::App* add_download_command(CLI::App& app, DownloadOptions& options, bool& silent) {
  auto* dl = app.add_subcommand("download", "Fetch the model files into the model directory (resumable)");
  dl->add_flag("--small", options.small, "The small models instead of the large ones");
  dl->add_option("--model-dir", options.model_dir, "Destination (default: $BARK_MODEL_DIR, then ~/.cache/bark-cpp)")
      ->type_name("DIR");
  dl->add_option("--only", options.only, "Only these groups: models, codec, vocab, prompts, clone (comma-separated; clone: voice-cloning models, fetched only when named)")
      ->delimiter(',')
      ->type_name("GROUPS")
      ->check(CLI::IsMember({"models", "codec", "vocab", "prompts", "clone"}));
  dl->add_option("--mirror", options.mirror, "Base URL replacing the public hosts (keeps each file's URL path)")
      ->envname("BARK_DOWNLOAD_BASE_URL")
      ->type_name("URL");
  dl->add_option("--manifest", options.manifest_path, "Manifest JSON to use instead of the built-in one")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  dl->add_flag("--list", options.list, "Print the files, sizes, URLs and what is present; download nothing");
  dl->add_option("--retries", options.retries, "Automatic resumes per file after an interrupted transfer")
      ->capture_default_str()
      ->type_name("N")
      ->check(CLI::Range(0, 1000));
  dl->add_flag_callback("--no-verify", [&options] { options.verify_checksums = false; },
                        "Skip the md5/sha256 check (size and format are still checked)");
  dl->add_flag("--silent", silent, "No progress bars or report lines");
  dl->footer(R"(
Examples:
  bark-cli download                          # large models, EnCodec, vocab, voices -> ~/.cache/bark-cpp
  bark-cli download --small                  # the small models instead (~4.6 GB instead of ~13 GB)
  bark-cli download --only vocab,prompts     # groups: models, codec, vocab, prompts
  bark-cli download --model-dir /data/bark   # another directory (then: bark-cli --model-dir /data/bark ...)
  bark-cli download --list                   # what would be fetched, sizes, and what is present
  bark-cli download --mirror http://mirror.internal:8080   # same URL paths, another host
)");
  return dl;
}

}  // namespace bark::tools
