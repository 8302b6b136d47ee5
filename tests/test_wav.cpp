// Tests of read_wav / write_wav (src/io/wav.cpp).
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bark/wav.h"
#include "io/npy.h"
#include "file_helpers.h"
#include "test_common.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

using bark_test::MemFile;
using bark_test::run_python;
using bark_test::slurp;
using bark_test::spit;

namespace {

// Runs a shell command, returns its exit status and output (stdout + stderr).
int run(const std::string& cmd, std::string* output) {
  const fs::path out = fs::temp_directory_path() / "bark_test_wav_cmd.out";
  const int rc = std::system((cmd + " > '" + out.string() + "' 2>&1").c_str());
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  *output = ss.str();
  return rc;
}

bark::Audio test_audio() {
  bark::Audio a;
  a.sample_rate = 24000;
  for (int i = 0; i < 2400; ++i) a.samples.push_back(0.8f * std::sin(0.05f * static_cast<float>(i)));
  // Edge values: clipping, exact +-1, NaN, the smallest steps around the rounding midpoint.
  for (float x : {1.0f, -1.0f, 1.5f, -2.0f, 0.0f, std::numeric_limits<float>::quiet_NaN(), 0.5f / 32767.0f,
                  -0.5f / 32767.0f, 0.49f / 32767.0f, 1.5f / 32767.0f, -1.5f / 32767.0f}) {
    a.samples.push_back(x);
  }
  return a;
}

// The PCM16 values write_wav documents: clip, * 32767, round half away from zero, NaN -> 0.
int16_t expected_pcm16(float x) {
  if (std::isnan(x)) return 0;
  const double c = std::min(1.0, std::max(-1.0, static_cast<double>(x)));
  return static_cast<int16_t>(std::lround(c * 32767.0));
}

}  // namespace

TEST_CASE("wav: PCM16 conversion clips and rounds half away from zero", "[unit]") {
  const auto dir = bark_test::temp_dir("wav_pcm16_values");
  const fs::path p = dir / "a.wav";
  bark::Audio a;
  a.samples = {1.0f, -1.0f, 1.5f, -2.0f, 0.0f, std::numeric_limits<float>::quiet_NaN(), 0.6f / 32767.0f,
               -0.6f / 32767.0f, 1.51f / 32767.0f, -1.51f / 32767.0f, 0.49f / 32767.0f, -0.49f / 32767.0f,
               0.5f, -0.5f};
  bark::write_wav(p.string(), a);
  const auto bytes = slurp(p);
  REQUIRE(bytes.size() == 44 + 2 * a.samples.size());
  std::vector<int16_t> got(a.samples.size());
  std::memcpy(got.data(), bytes.data() + 44, 2 * got.size());
  // 0.5 * 32767 = 16383.5: an exact tie, rounded away from zero.
  CHECK(got == std::vector<int16_t>{32767, -32767, 32767, -32767, 0, 0, 1, -1, 2, -2, 0, 0, 16384, -16384});
}

TEST_CASE("wav: write/read round trip (PCM16 and float32), header layout", "[unit]") {
  const auto dir = bark_test::temp_dir("wav_roundtrip");
  const auto audio = test_audio();
  bark::write_wav((dir / "pcm.wav").string(), audio, bark::WavFormat::Pcm16);
  bark::write_wav((dir / "float.wav").string(), audio, bark::WavFormat::Float32);

  const auto pcm = bark::read_wav((dir / "pcm.wav").string());
  CHECK(pcm.sample_rate == 24000);
  REQUIRE(pcm.samples.size() == audio.samples.size());
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    REQUIRE(pcm.samples[i] == static_cast<float>(expected_pcm16(audio.samples[i]) / 32768.0));
  }
  const auto flt = bark::read_wav((dir / "float.wav").string());
  REQUIRE(flt.samples.size() == audio.samples.size());
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    if (std::isnan(audio.samples[i])) {
      REQUIRE(std::isnan(flt.samples[i]));
    } else {
      REQUIRE(flt.samples[i] == audio.samples[i]);  // float32 is stored unclipped and exact
    }
  }
  const auto f = slurp(dir / "float.wav");
  REQUIRE(f.size() == 58 + 4 * audio.samples.size());
  CHECK(std::string(f.begin() + 12, f.begin() + 16) == "fmt ");
  CHECK(f[16] == 18);   // fmt size 18: WAVEFORMATEX with cbSize = 0
  CHECK(f[20] == 3);    // WAVE_FORMAT_IEEE_FLOAT
  CHECK(std::string(f.begin() + 38, f.begin() + 42) == "fact");
  uint32_t fact = 0;
  std::memcpy(&fact, f.data() + 46, 4);
  CHECK(fact == audio.samples.size());
  // Empty audio is a valid file.
  bark::write_wav((dir / "empty.wav").string(), bark::Audio{});
  CHECK(bark::read_wav((dir / "empty.wav").string()).samples.empty());
  REQUIRE_THROWS_AS(bark::write_wav((dir / "bad.wav").string(), bark::Audio{{0.f}, 0}), std::invalid_argument);
  REQUIRE_THROWS_WITH(bark::write_wav("/nonexistent-dir/x.wav", audio), Contains("/nonexistent-dir/x.wav"));
}

TEST_CASE("wav: our files are read by Python wave, scipy.io.wavfile and sox", "[unit]") {
  const auto dir = bark_test::temp_dir("wav_external_readers");
  const auto audio = test_audio();
  const fs::path pcm = dir / "pcm.wav";
  const fs::path flt = dir / "float.wav";
  bark::write_wav(pcm.string(), audio, bark::WavFormat::Pcm16);
  bark::write_wav(flt.string(), audio, bark::WavFormat::Float32);
  std::vector<int64_t> expect16;
  for (float x : audio.samples) expect16.push_back(expected_pcm16(x));
  std::vector<float> clean = audio.samples;
  for (float& x : clean) x = std::isnan(x) ? 0.0f : x;
  bark::io::write_npz((dir / "expect.npz").string(),
                      {{"pcm", bark::io::make_int64({static_cast<int64_t>(expect16.size())}, expect16)},
                       {"flt", bark::io::make_float32({static_cast<int64_t>(clean.size())}, clean)}});
  const std::string code =
      "import wave, numpy as np, scipy.io.wavfile as wf, warnings\n"
      "warnings.simplefilter('error')\n"  // any WavFileWarning (odd chunks, ...) fails the test
      "e = np.load(r'" + (dir / "expect.npz").string() + "')\n"
      "w = wave.open(r'" + pcm.string() + "')\n"
      "assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 24000, len(e['pcm']))\n"
      "x = np.frombuffer(w.readframes(w.getnframes()), '<i2')\n"
      "assert (x == e['pcm']).all()\n"
      "rate, y = wf.read(r'" + pcm.string() + "')\n"
      "assert rate == 24000 and y.dtype == np.int16 and (y == e['pcm']).all()\n"
      "rate, z = wf.read(r'" + flt.string() + "')\n"
      "assert rate == 24000 and z.dtype == np.float32 and z.shape == e['flt'].shape\n"
      "z = np.where(np.isnan(z), 0, z)\n"
      "assert (z == e['flt']).all()\n";
  REQUIRE(run_python(code, dir) == 0);

  // sox: in-range samples only (it warns about clipping otherwise).
  bark::Audio sine = audio;
  sine.samples.resize(2400);
  const fs::path sox_pcm = dir / "sox_pcm.wav";
  const fs::path sox_flt = dir / "sox_float.wav";
  bark::write_wav(sox_pcm.string(), sine, bark::WavFormat::Pcm16);
  bark::write_wav(sox_flt.string(), sine, bark::WavFormat::Float32);
  std::string out;
  const auto n = std::to_string(sine.samples.size());
  for (const auto& [file, encoding, bits] : {std::tuple{sox_pcm, "Signed Integer PCM", "16"},
                                             std::tuple{sox_flt, "Floating Point PCM", "32"}}) {
    INFO(file);
    REQUIRE(run("soxi -r '" + file.string() + "'", &out) == 0);
    CHECK(out == "24000\n");
    REQUIRE(run("soxi -c '" + file.string() + "'", &out) == 0);
    CHECK(out == "1\n");
    REQUIRE(run("soxi -s '" + file.string() + "'", &out) == 0);
    CHECK(out == n + "\n");
    REQUIRE(run("soxi -e '" + file.string() + "'", &out) == 0);
    CHECK(out == std::string(encoding) + "\n");
    REQUIRE(run("soxi -b '" + file.string() + "'", &out) == 0);
    CHECK(out == std::string(bits) + "\n");
    // sox decodes the whole file without a warning.
    REQUIRE(run("sox -V2 '" + file.string() + "' -t " + (std::string(bits) == "16" ? "s16" : "f32") + " /dev/null", &out) == 0);
    CHECK(out.empty());
    // And decodes the same samples.
    REQUIRE(run("sox '" + file.string() + "' -t f32 '" + (dir / "decoded.f32").string() + "'", &out) == 0);
    const auto raw = slurp(dir / "decoded.f32");
    REQUIRE(raw.size() == 4 * sine.samples.size());
    const auto ours = bark::read_wav(file.string());
    double max_diff = 0;
    for (size_t i = 0; i < sine.samples.size(); ++i) {
      float x;
      std::memcpy(&x, raw.data() + 4 * i, 4);
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(x - ours.samples[i])));
    }
    INFO("max diff vs sox " << max_diff);
    CHECK(max_diff <= 1e-7);
  }
}

TEST_CASE("wav: reads files written by scipy, wave and sox (PCM 8/16/24/32, float 32/64, multichannel)", "[unit]") {
  const auto dir = bark_test::temp_dir("wav_external_writers");
  // Each case: a file plus the samples we should read, channel-averaged, in expect_<name>.npy.
  const std::string code =
      "import numpy as np, scipy.io.wavfile as wf, wave, subprocess, os\n"
      "d = r'" + dir.string() + "'\n"
      "t = np.arange(1000)\n"
      "base = np.stack([np.sin(0.01 * t), 0.5 * np.cos(0.03 * t), -0.25 * np.sin(0.002 * t)], 1) * 0.9\n"
      "def save(name, rate, data, expect):\n"
      "    wf.write(os.path.join(d, name + '.wav'), rate, data)\n"
      "    np.save(os.path.join(d, 'expect_' + name + '.npy'), expect)\n"
      "def norm(x):\n"
      "    x = np.asarray(x)\n"
      "    if x.dtype == np.uint8: x = (x.astype(np.float64) - 128) / 128\n"
      "    elif x.dtype.kind == 'i': x = x.astype(np.float64) / 2.0 ** (8 * x.dtype.itemsize - 1)\n"
      "    x = x.astype(np.float64)\n"
      "    return (x.mean(axis=1) if x.ndim == 2 else x).astype(np.float32)\n"
      "for ch in [1, 2, 3]:\n"
      "    b = base[:, :ch] if ch > 1 else base[:, 0]\n"
      "    for dt in [np.int16, np.int32, np.float32, np.float64, np.uint8]:\n"
      "        if dt == np.uint8: x = np.round(b * 127 + 128).astype(dt)\n"
      "        elif np.dtype(dt).kind == 'i': x = np.round(b * np.iinfo(dt).max).astype(dt)\n"
      "        else: x = b.astype(dt)\n"
      "        save(f'scipy_{np.dtype(dt).name}_{ch}ch', 16000 + ch, x, norm(x))\n"
      // 24-bit PCM via the wave module (little-endian 3-byte samples).
      "x = np.round(base[:, :2] * (2**23 - 1)).astype(np.int32)\n"
      "raw = b''.join(int(v).to_bytes(3, 'little', signed=True) for v in x.reshape(-1))\n"
      "with wave.open(os.path.join(d, 'wave_int24_2ch.wav'), 'wb') as w:\n"
      "    w.setnchannels(2); w.setsampwidth(3); w.setframerate(22050); w.writeframes(raw)\n"
      "np.save(os.path.join(d, 'expect_wave_int24_2ch.npy'), (x.astype(np.float64) / 2**23).mean(axis=1).astype(np.float32))\n"
      // sox: 24-bit and 3-channel files use WAVE_FORMAT_EXTENSIBLE; read the samples back with scipy.
      "for name, args in [('sox_s24_1ch', ['-b', '24', '-c', '1']), ('sox_s16_3ch', ['-b', '16', '-c', '3']),\n"
      "                   ('sox_f32_2ch', ['-e', 'floating-point', '-b', '32', '-c', '2'])]:\n"
      "    p = os.path.join(d, name + '.wav')\n"
      "    subprocess.run(['sox', '-n', '-r', '8000', *args, p, 'synth', '0.05', 'sine', '440', 'gain', '-3'], check=True)\n"
      "    rate, x = wf.read(p)\n"
      "    np.save(os.path.join(d, 'expect_' + name + '.npy'), norm(x))\n";
  REQUIRE(run_python(code, dir) == 0);
  size_t n_files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".wav") continue;
    const std::string name = entry.path().stem().string();
    INFO(name);
    const auto audio = bark::read_wav(entry.path().string());
    const auto expect = bark::io::read_npy((dir / ("expect_" + name + ".npy")).string()).to_float32();
    REQUIRE(audio.samples.size() == expect.size());
    REQUIRE(!expect.empty());
    double max_diff = 0;
    for (size_t i = 0; i < expect.size(); ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(audio.samples[i] - expect[i])));
    }
    INFO("max diff " << max_diff);
    CHECK(max_diff <= 1e-6);  // float32 rounding of the channel mean only
    ++n_files;
  }
  CHECK(n_files == 5 * 3 + 1 + 3);
}

TEST_CASE("wav: skips unknown chunks, honours pad bytes and WAVE_FORMAT_EXTENSIBLE", "[unit]") {
  const auto dir = bark_test::temp_dir("wav_chunks");
  const fs::path p = dir / "c.wav";
  bark::write_wav(p.string(), bark::Audio{{0.25f, -0.5f, 0.75f}, 8000});
  const auto base = slurp(p);
  // Insert an odd-sized LIST chunk (5 bytes + pad) between fmt and data.
  std::vector<uint8_t> b(base.begin(), base.begin() + 36);
  for (char c : std::string("LIST")) b.push_back(static_cast<uint8_t>(c));
  b.insert(b.end(), {5, 0, 0, 0, 'a', 'b', 'c', 'd', 'e', 0});
  b.insert(b.end(), base.begin() + 36, base.end());
  // And trailing junk after the data chunk (incomplete chunk header).
  b.insert(b.end(), {'j', 'u', 'n'});
  spit(p, b);
  auto a = bark::read_wav(p.string());
  CHECK(a.sample_rate == 8000);
  CHECK(a.samples == std::vector<float>{static_cast<float>(8192 / 32768.0), static_cast<float>(-16384 / 32768.0),
                                        static_cast<float>(24575 / 32768.0)});
}

TEST_CASE("wav: corrupt or unsupported files throw runtime_error naming the file", "[unit]") {
  const auto dir = bark_test::temp_dir("wav_corrupt");
  const fs::path good_path = dir / "good.wav";
  bark::write_wav(good_path.string(), bark::Audio{{0.1f, 0.2f, 0.3f, 0.4f}, 24000}, bark::WavFormat::Float32);
  const auto good = slurp(good_path);
  const fs::path p = dir / "bad.wav";
  // Every proper prefix is rejected (it cuts a chunk header or the data short).
  for (size_t n = 0; n < good.size(); ++n) {
    spit(p, std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    INFO("prefix " << n);
    REQUIRE_THROWS_WITH(bark::read_wav(p.string()), Contains(p.string()));
  }
  auto expect_error = [&](std::vector<uint8_t> b, const std::string& what) {
    spit(p, b);
    INFO(what);
    REQUIRE_THROWS_WITH(bark::read_wav(p.string()), Contains(p.string()) && Contains(what));
  };
  auto put16 = [](std::vector<uint8_t>& b, size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v);
    b[at + 1] = static_cast<uint8_t>(v >> 8);
  };
  auto b = good;
  b[0] = 'X';
  expect_error(b, "not a RIFF/WAVE file");
  b = good;
  std::memcpy(b.data(), "RF64", 4);
  expect_error(b, "RF64");
  b = good;
  put16(b, 20, 6);  // A-law
  expect_error(b, "unsupported encoding (format tag 6");
  b = good;
  put16(b, 34, 24);  // float with 24 bits
  expect_error(b, "unsupported encoding");
  b = good;
  put16(b, 22, 0);  // channels
  expect_error(b, "0 channels");
  b = good;
  put16(b, 32, 3);  // block align
  expect_error(b, "block align");
  b = good;
  b[24] = b[25] = b[26] = b[27] = 0;  // sample rate 0
  expect_error(b, "invalid sample rate");
  b = good;
  b[55] = 1;  // data size 272: past the end of the file
  expect_error(b, "chunk 'data' claims 272 bytes");
  b = good;
  b[54] = 15;  // 15 bytes: fits in the file, but not whole frames
  b.push_back(0);
  expect_error(b, "whole number");
  b = good;
  std::memcpy(b.data() + 12, "xxxx", 4);  // fmt renamed: skipped as unknown
  expect_error(b, "no fmt chunk");
  b = good;
  std::memcpy(b.data() + 50, "xxxx", 4);  // data renamed
  expect_error(b, "no data chunk");
  b = good;
  put16(b, 16, 12);  // fmt chunk too short
  expect_error(b, "fmt chunk too short");
  REQUIRE_THROWS_WITH(bark::read_wav((dir / "missing.wav").string()), Contains("cannot open"));
  REQUIRE_THROWS_WITH(bark::read_wav(dir.string()), Contains("not a regular file"));
}

TEST_CASE("output files: symlinks followed, devices and FIFOs written in place, modes kept", "[unit][wav]") {
  namespace fs = std::filesystem;
  const auto dir = bark_test::temp_dir("output_files");
  bark::Audio a;
  a.samples = {0.0f, 0.5f, -0.5f, 0.25f};
  // a symlink: the file it points to is replaced, the link stays a link
  const auto target = dir / "real.wav";
  const auto link = dir / "link.wav";
  bark::write_wav(target.string(), a);
  fs::create_symlink("real.wav", link);
  a.samples.push_back(1.0f);
  bark::write_wav(link.string(), a);
  CHECK(fs::is_symlink(link));
  CHECK(bark::read_wav(target.string()).samples.size() == 5);
  // an existing file keeps its mode
  fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  bark::write_wav(target.string(), a);
  CHECK((fs::status(target).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  // character devices are written, never replaced; errors are reported
  bark::write_wav("/dev/null", a);
  CHECK(fs::is_character_file("/dev/null"));
  if (fs::exists("/dev/full")) {
    CHECK_THROWS_WITH(bark::write_wav("/dev/full", a), Catch::Matchers::Contains("No space left on device"));
    CHECK(fs::is_character_file("/dev/full"));
  }
  // a FIFO is written in place for its reader
  const auto fifo = dir / "pipe.wav";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string got;
  std::thread reader([&] {
    std::ifstream in(fifo, std::ios::binary);
    got.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  });
  bark::write_wav(fifo.string(), a);
  reader.join();
  CHECK(fs::is_fifo(fifo));
  CHECK(got.size() == 44 + 2 * a.samples.size());
  // no temporary files left anywhere
  for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}
