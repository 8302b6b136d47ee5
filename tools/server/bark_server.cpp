// bark-server: Bark over HTTP. OpenAI's POST /v1/audio/speech, a native POST /v1/bark/speech
// with every generation option, voices, models, health, readiness and Prometheus metrics.
// Thin by design: one shared bark::Pipeline does the work (docs/SERVER.md).
//
// Request life: admission (workers + queue, else 503 at once) -> a worker slot -> a generation
// thread that pushes audio chunks into the request's channel -> the HTTP thread answers with the
// first chunk (or an error status if the generation failed or timed out before it), then streams
// the rest. A client that goes away, a timeout or SIGTERM's drain deadline cancels the generation
// through its progress callback, within one decoding step.
#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bark/bark.h"
#include "bark/passive_openmp.h"
#include "server/audio_encode.h"
#include "server/metrics.h"
#include "server/request.h"

BARK_PASSIVE_OPENMP()

namespace bark::server {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---- options -------------------------------------------------------------------------------

struct Options {
  PipelineOptions pipeline;
  std::string device = "cpu", precision = "fp32";
  std::string host = "127.0.0.1";
  int port = 8000;
  int workers = 0;  // 0: physical cores / threads per generation
  int queue = 8;
  std::string api_key_file;
  size_t max_input_chars = 4096;
  size_t max_body_bytes = 16 << 20;
  double request_timeout_s = 600;
  double drain_timeout_s = 30;
  std::string voice_map_file;
  bool quiet = false;  // no access log
};

// OpenAI's six voices -> Bark presets (docs/SERVER.md; --voice-map FILE overrides or adds).
std::map<std::string, std::string> default_voice_map() {
  return {{"alloy", "v2/en_speaker_6"}, {"echo", "v2/en_speaker_1"},  {"fable", "v2/en_speaker_2"},
          {"onyx", "v2/en_speaker_3"},  {"nova", "v2/en_speaker_9"},  {"shimmer", "v2/en_speaker_4"},
          // the voices OpenAI added later (gpt-4o-mini-tts)
          {"ash", "v2/en_speaker_0"},   {"ballad", "v2/en_speaker_7"}, {"coral", "v2/en_speaker_5"},
          {"sage", "v2/en_speaker_8"},  {"verse", "announcer"}};
}

// ---- errors in OpenAI's shape ------------------------------------------------------------------

void send_error(httplib::Response& res, int status, const std::string& type, const std::string& code,
                const std::string& message) {
  json body = {{"error", {{"message", message}, {"type", type}, {"code", code}, {"param", nullptr}}}};
  res.status = status;
  // A message may quote the request's bytes (nlohmann's parse errors do): invalid UTF-8 there must
  // not make dump() throw, which turned a bad request into an uncounted 500.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

// ---- the client's socket: is it still there? ----------------------------------------------------

// cpp-httplib does not hand the connection to a handler, so the accepted socket is found by its
// peer address (/proc/self/fd), once per request, and polled at every decoding step: a peer
// that closed makes the socket readable with nothing to read (or POLLRDHUP).
int find_client_socket(const std::string& addr, int port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* e = ::readdir(dir)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    char host[INET6_ADDRSTRLEN] = {0};
    int peer_port = 0;
    if (ss.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      peer_port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      peer_port = ntohs(a->sin6_port);
    }
    if (peer_port == port && addr == host) {
      found = fd;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

bool client_gone(int fd) {
  if (fd < 0) return false;
  pollfd p{fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  if (p.revents & POLLIN) {
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  return false;
}

// ---- one request's channel between its generation thread and its HTTP thread ---------------------

struct Channel {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::string> chunks;  // encoded bytes, in order
  bool finished = false;           // no more chunks
  std::optional<HttpError> error;  // the generation failed (before or after the first chunk)
  std::atomic<bool> cancel{false}; // set by the HTTP side: client gone, timeout, drain deadline
  int64_t started_ns = 0;

  void push(std::string bytes) {
    if (bytes.empty()) return;  // an empty chunk would end a chunked response
    {
      std::lock_guard<std::mutex> lock(mutex);
      chunks.push_back(std::move(bytes));
    }
    cv.notify_all();
  }
  void finish(std::optional<HttpError> e = std::nullopt) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      finished = true;
      error = std::move(e);
    }
    cv.notify_all();
  }
};

// ---- the service ------------------------------------------------------------------------------

class Service {
 public:
  Service(const Options& o, std::map<std::string, std::string> voice_map, std::string api_key)
      : o_(o), voice_map_(std::move(voice_map)), api_key_(std::move(api_key)), pipeline_(o.pipeline) {}

  void preload() {
    pipeline_.preload();
    for (const auto& [alias, preset] : voice_map_) {
      try {
        pipeline_.load_voice(preset);
      } catch (const std::exception& e) {
        throw std::runtime_error("voice alias '" + alias + "' -> '" + preset + "': " + e.what());
      }
    }
    ready_ = true;
  }
  bool ready() const { return ready_ && !draining_; }
  void start_drain() { draining_ = true; }
  int in_flight() const { return in_flight_.load(); }
  // Past the drain deadline: every running generation stops at its next step.
  void cancel_all() { cancel_all_ = true; }
  Metrics& metrics() { return metrics_; }

  void routes(httplib::Server& svr) {
    svr.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"ok\"}", "application/json");
      metrics_.request("/healthz", 200);
    });
    svr.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      const bool ok = ready();
      res.status = ok ? 200 : 503;
      res.set_content(ok ? "{\"status\":\"ready\"}" : (draining_ ? "{\"status\":\"draining\"}" : "{\"status\":\"loading\"}"),
                      "application/json");
      metrics_.request("/readyz", res.status);
    });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.text(), "text/plain; version=0.0.4");
    });
    svr.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, "/v1/models", [&] {
        json data = json::array();
        for (const auto& m : model_names()) data.push_back({{"id", m}, {"object", "model"}, {"owned_by", "suno"}, {"created", 0}});
        res.set_content(json{{"object", "list"}, {"data", data}}.dump(), "application/json");
      });
    });
    svr.Get("/v1/voices", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, "/v1/voices", [&] {
        json aliases = json::object();
        for (const auto& [k, v] : voice_map_) aliases[k] = v;
        res.set_content(json{{"presets", pipeline_.voices()}, {"aliases", aliases}}.dump(), "application/json");
      });
    });
    svr.Post("/v1/audio/speech", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, "/v1/audio/speech", [&] { speak(req, res, parse(req, /*openai=*/true)); });
    });
    svr.Post("/v1/bark/speech", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, "/v1/bark/speech", [&] { speak(req, res, parse(req, /*openai=*/false)); });
    });
    // The other method on an existing endpoint: 405 with Allow (RFC 9110), not "no such endpoint".
    const auto wrong_method = [](const char* allow) {
      return [allow](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Allow", allow);
        send_error(res, 405, "invalid_request_error", "method_not_allowed",
                   req.method + " " + req.path + " is not supported; use " + allow);
      };
    };
    for (const char* path : {"/healthz", "/readyz", "/metrics", "/v1/models", "/v1/voices"}) {
      svr.Post(path, wrong_method("GET"));
      svr.Put(path, wrong_method("GET"));
      svr.Delete(path, wrong_method("GET"));
    }
    for (const char* path : {"/v1/audio/speech", "/v1/bark/speech"}) {
      svr.Get(path, wrong_method("POST"));
      svr.Put(path, wrong_method("POST"));
      svr.Delete(path, wrong_method("POST"));
    }
  }

 private:
  // Authentication, errors in OpenAI's shape, the request counter.
  template <typename F>
  void handle(const httplib::Request& req, httplib::Response& res, const std::string& endpoint, F&& f) {
    try {
      authenticate(req);
      f();
    } catch (const HttpError& e) {
      send_error(res, e.status, e.type, e.code, e.what());
      if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
    } catch (const std::invalid_argument& e) {
      send_error(res, 400, "invalid_request_error", "invalid_request", e.what());
    } catch (const std::exception& e) {
      send_error(res, 500, "server_error", "internal_error", e.what());
    }
    metrics_.request(endpoint, res.status == -1 ? 200 : res.status);
  }

  void authenticate(const httplib::Request& req) const {
    if (api_key_.empty()) return;
    const std::string auth = req.get_header_value("Authorization");
    // the scheme is case-insensitive (RFC 9110 11.1)
    std::string scheme = auth.substr(0, std::min<size_t>(7, auth.size()));
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string given = scheme == "bearer " ? auth.substr(7) : std::string();
    // Constant time whatever the lengths: compare SHA-256 digests with CRYPTO_memcmp.
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned int na = 0, nb = 0;
    EVP_Digest(given.data(), given.size(), a, &na, EVP_sha256(), nullptr);
    EVP_Digest(api_key_.data(), api_key_.size(), b, &nb, EVP_sha256(), nullptr);
    if (given.empty() || CRYPTO_memcmp(a, b, na) != 0) {
      throw HttpError(401, "invalid_request_error", "invalid_api_key", "missing or invalid API key (Authorization: Bearer ...)");
    }
  }

  // A preset name or an alias; never a path (a client cannot make the server read a file).
  std::string checked_voice(const std::string& voice) const {
    auto it = voice_map_.find(voice);
    const std::string preset = it != voice_map_.end() ? it->second : voice;
    if (voice.find(".npz") != std::string::npos || voice.find('/') == 0 || voice.find("..") != std::string::npos) {
      throw bad_request("voice '" + voice + "' is not a preset name; upload a voice .npz to /v1/bark/speech instead",
                        "invalid_voice");
    }
    try {
      pipeline_.load_voice(preset);
    } catch (const std::exception&) {
      throw bad_request("unknown voice '" + voice + "': use a Bark preset (GET /v1/voices) or one of the aliases there",
                        "invalid_voice");
    }
    return preset;
  }


  Job parse(const httplib::Request& req, bool openai) const {
    const RequestLimits limits{o_.max_input_chars};
    const VoiceResolver voices = [this](const std::string& v) { return checked_voice(v); };
    return openai ? parse_openai_request(req.body, limits, voices) : parse_native_request(req.body, limits, voices);
  }

  // Admission: at most workers generating and queue waiting; beyond that, 503 at once.
  bool admit() {
    std::lock_guard<std::mutex> lock(slots_mutex_);
    if (draining_ || in_flight_ >= o_.workers + o_.queue) return false;
    ++in_flight_;
    return true;
  }
  void leave() {
    {
      std::lock_guard<std::mutex> lock(slots_mutex_);
      --in_flight_;
    }
    slots_cv_.notify_all();
  }

  void speak(const httplib::Request& req, httplib::Response& res, Job job) {
    if (!ready()) {
      res.set_header("Retry-After", "5");
      throw HttpError(503, "server_error", draining_ ? "shutting_down" : "loading",
                      draining_ ? "the server is shutting down" : "the models are still loading");
    }
    if (!admit()) {
      res.set_header("Retry-After", "2");
      throw HttpError(503, "server_error", "overloaded",
                      "all " + std::to_string(o_.workers) + " workers are busy and the queue of " + std::to_string(o_.queue) +
                          " is full; retry later");
    }
    job.client_fd = find_client_socket(req.remote_addr, req.remote_port);
    auto channel = std::make_shared<Channel>();
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(o_.request_timeout_s));
    // The generation thread: waits for a worker slot, generates, pushes chunks. It owns a
    // reference to the channel, so it may outlive the HTTP side (a client gone mid-stream).
    std::thread([this, job, channel, deadline]() mutable { run(std::move(job), channel, deadline); }).detach();

    // Wait for the first bytes (or the end, or an error) before committing a status.
    std::unique_lock<std::mutex> lock(channel->mutex);
    while (channel->chunks.empty() && !channel->finished) {
      if (Clock::now() >= deadline) {
        channel->cancel = true;
        throw HttpError(504, "server_error", "timeout",
                        "the generation did not produce audio within " + std::to_string(o_.request_timeout_s) + " s");
      }
      if (client_gone(job.client_fd)) {
        channel->cancel = true;
        res.status = 499;  // nginx's "client closed request", for the metrics
        return;
      }
      channel->cv.wait_for(lock, std::chrono::milliseconds(100));
    }
    if (channel->chunks.empty() && channel->error) throw *channel->error;
    lock.unlock();
    if (job.return_json) {
      res.set_content(channel->chunks.front(), "application/json");
      return;
    }
    res.set_header("Cache-Control", "no-store");
    const int fd = job.client_fd;
    res.set_chunked_content_provider(content_type(job.format), [this, channel, fd](size_t, httplib::DataSink& sink) {
      std::unique_lock<std::mutex> lk(channel->mutex);
      while (channel->chunks.empty() && !channel->finished) {
        if (client_gone(fd) || !sink.is_writable()) {
          channel->cancel = true;
          return false;
        }
        channel->cv.wait_for(lk, std::chrono::milliseconds(100));
      }
      if (!channel->chunks.empty()) {
        std::string bytes = std::move(channel->chunks.front());
        channel->chunks.pop_front();
        lk.unlock();
        if (!sink.write(bytes.data(), bytes.size())) {
          channel->cancel = true;
          return false;
        }
        return true;
      }
      // finished: an error after the first bytes can only cut the stream short
      if (channel->error) return false;
      lk.unlock();
      sink.done();
      return true;
    });
  }

  void run(Job job, std::shared_ptr<Channel> channel, Clock::time_point deadline) {
    struct Leave {  // the admission slot, released before the answer's last bytes go out
      Service* s;
      bool done = false;
      void now() {
        if (!done) s->leave();
        done = true;
      }
      ~Leave() { now(); }
    } admission{this};
    // a worker slot
    metrics_.queue_depth++;
    {
      std::unique_lock<std::mutex> lock(slots_mutex_);
      while (busy_ >= o_.workers) {
        if (channel->cancel || cancel_all_ || Clock::now() >= deadline || client_gone(job.client_fd)) {
          metrics_.queue_depth--;
          channel->cancel = true;
          channel->finish(HttpError(504, "server_error", "timeout", "timed out waiting for a worker"));
          return;
        }
        slots_cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
      ++busy_;
    }
    metrics_.queue_depth--;
    metrics_.busy_workers++;
    const auto t0 = Clock::now();
    const auto stop = [&] {
      if (channel->cancel || cancel_all_ || Clock::now() >= deadline || client_gone(job.client_fd)) {
        channel->cancel = true;
        return true;
      }
      return false;
    };
    job.speech.generation.on_progress = [&](const Progress&) { return !stop(); };
    const bool streaming = streams(job.format) && !job.return_json;
    if (streaming) {
      // The header goes out with the first samples: until then an invalid option or a failure
      // still gets its own status code.
      bool first = true;
      job.speech.on_audio = [&, first](const AudioChunk& c) mutable {
        channel->push((first ? stream_header(job.format) : std::string()) + stream_samples(job.format, c.samples));
        first = false;
        return !stop();
      };
    }
    std::optional<HttpError> error;
    double audio_s = 0;
    try {
      SpeechResult r = pipeline_.generate_speech(job.text, job.speech);
      audio_s = r.audio.duration_seconds();
      if (job.return_json) {
        json segs = json::array();
        for (const auto& s : r.segments) {
          segs.push_back({{"text", s.text}, {"seed", s.seed ? json(*s.seed) : json(nullptr)},
                          {"sample_offset", s.sample_offset}, {"sample_count", s.sample_count}});
        }
        json out = {{"format", job.format == AudioFormat::Pcm ? "pcm" : "encoded"},
                    {"sample_rate", 24000},
                    {"audio_base64", encode_base64(encode(job.format, r.audio.samples, 24000))},
                    {"npz_base64", encode_base64(serialize_history_prompt(r.final_history))},
                    {"seed", r.seed ? json(*r.seed) : json(nullptr)},
                    {"segments", segs}};
        channel->push(out.dump());
      } else if (!streaming) {
        channel->push(encode(job.format, r.audio.samples, 24000));
      }
    } catch (const Cancelled&) {
      // the deadline is a timeout whether it passed in the queue or mid-generation
      error = Clock::now() >= deadline
                  ? HttpError(504, "server_error", "timeout", "the request timed out (--request-timeout)")
                  : HttpError(499, "server_error", "cancelled", "the generation was cancelled");
    } catch (const std::invalid_argument& e) {
      error = bad_request(e.what());
    } catch (const std::exception& e) {
      error = HttpError(500, "server_error", "generation_failed", e.what());
    }
    metrics_.busy_workers--;
    {
      std::lock_guard<std::mutex> lock(slots_mutex_);
      --busy_;
    }
    slots_cv_.notify_all();
    if (!error) metrics_.generation(std::chrono::duration<double>(Clock::now() - t0).count(), audio_s);
    // A generation frees tens of MB of activations; glibc keeps freed memory in the arena of the
    // thread that used it. Giving it back after each request keeps the RSS flat with the number
    // of requests served (measured in docs/SERVER.md).
    ::malloc_trim(0);
    // free the slot before the client can see the end of its answer (and send the next request)
    admission.now();
    channel->finish(std::move(error));
  }

  Options o_;
  std::map<std::string, std::string> voice_map_;
  std::string api_key_;
  const Pipeline pipeline_;
  Metrics metrics_;
  std::atomic<bool> ready_{false}, draining_{false}, cancel_all_{false};
  std::mutex slots_mutex_;
  std::condition_variable slots_cv_;
  std::atomic<int> in_flight_{0};
  int busy_ = 0;
};

std::string read_file_or_throw(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + what + " '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int serve(Options o) {
  // The signals are taken by one thread (sigwait): block them everywhere before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // Few malloc arenas: each request runs on a thread of its own, and glibc's default (8 per core)
  // would keep a cache of freed memory per arena (measured: RSS 0.4 -> 1.1 GB under load).
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) ::mallopt(M_ARENA_MAX, 2);
  o.pipeline.device = parse_device(o.device);
  o.pipeline.precision = parse_precision(o.precision);
  // Workers x threads per generation = the logical CPUs, unless told otherwise: by default one
  // thread per generation and one generation per CPU (throughput), docs/SERVER.md.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.pipeline.max_batch > 1) {
    // Batching: up to max_batch requests generate at once and their semantic and coarse stages
    // decode together (one thread leads each batch with every core), docs/SERVER.md.
    if (o.pipeline.num_threads == 0) o.pipeline.num_threads = cores;
    if (o.workers <= 0) o.workers = o.pipeline.max_batch;
  }
  if (o.pipeline.num_threads == 0) o.pipeline.num_threads = o.workers > 0 ? std::max(1, cores / o.workers) : 1;
  if (o.workers <= 0) o.workers = std::max(1, cores / o.pipeline.num_threads);
  auto voices = default_voice_map();
  if (!o.voice_map_file.empty()) {
    json j;
    try {
      j = json::parse(read_file_or_throw(o.voice_map_file, "voice map"));
    } catch (const json::exception& e) {
      throw std::runtime_error("voice map '" + o.voice_map_file + "': " + e.what());
    }
    if (!j.is_object()) throw std::runtime_error("voice map '" + o.voice_map_file + "': expected a JSON object {name: preset}");
    for (const auto& [k, v] : j.items()) {
      if (!v.is_string()) throw std::runtime_error("voice map '" + o.voice_map_file + "': '" + k + "' is not a string");
      voices[k] = v.get<std::string>();
    }
  }
  std::string key;
  if (!o.api_key_file.empty()) {
    key = read_file_or_throw(o.api_key_file, "API key file");
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
    if (key.empty()) throw std::runtime_error("API key file '" + o.api_key_file + "' is empty");
  }

  Service service(o, voices, key);
  httplib::Server svr;
  // Enough HTTP threads for every admitted request plus health checks and refusals.
  const int http_threads = o.workers + o.queue + 8;
  svr.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<size_t>(http_threads)); };
  svr.set_payload_max_length(o.max_body_bytes);
  // cpp-httplib's default socket options add SO_REUSEPORT, with which a second bark-server on the
  // same port starts and silently takes half of the connections: SO_REUSEADDR only.
  // The options callback sees each socket bind_to_port tries; the last one is the listening one.
  socket_t listen_sock = INVALID_SOCKET;
  svr.set_socket_options([&listen_sock](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_sock = sock;
  });
  // Bodies of unknown length (chunked) are not bounded by the payload limit in this cpp-httplib:
  // refuse them before they are read.
  svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.has_header("Transfer-Encoding")) {
      send_error(res, 411, "invalid_request_error", "length_required",
                 "send the request body with a Content-Length (chunked request bodies are not accepted)");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_read_timeout(30, 0);
  // Clients (httpx, the openai client) keep connections open between requests: a short idle
  // timeout races with their next request on the same connection.
  svr.set_keep_alive_timeout(30);
  svr.set_keep_alive_max_count(1000);
  svr.set_write_timeout(30, 0);
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 404: send_error(res, 404, "invalid_request_error", "not_found", "no such endpoint"); break;
      case 413: send_error(res, 413, "invalid_request_error", "payload_too_large", "the request body is too large"); break;
      // cpp-httplib refuses these before any handler (a malformed request line or headers...)
      case 400: send_error(res, 400, "invalid_request_error", "bad_request", "the HTTP request could not be read"); break;
      default: send_error(res, res.status, "invalid_request_error", "error", "request failed"); break;
    }
  });
  service.routes(svr);
  if (!o.quiet) {
    // One access-log line per request on stderr, when its answer is complete (streams included).
    svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      const std::time_t now = std::time(nullptr);
      char ts[32];
      std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
      std::fprintf(stderr, "%s %s %s %s %d\n", ts, req.remote_addr.c_str(), req.method.c_str(), req.path.c_str(),
                   res.status);
    });
  }
  if (!svr.bind_to_port(o.host.c_str(), o.port)) {
    throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, not allowed, or not an address of this machine)");
  }
  // This cpp-httplib listens with a backlog of 5 (compiled into Debian's libcpp-httplib): a burst
  // of clients overflowed it (the kernel's ListenOverflows counter), and a connection whose
  // handshake was dropped can be reset later, mid-request (seen as a read error by httpx in the
  // load test). listen() again on the bound socket raises the backlog to the system's maximum.
  if (listen_sock != INVALID_SOCKET && ::listen(listen_sock, SOMAXCONN) != 0) {
    std::fprintf(stderr, "bark-server: warning: could not raise the listen backlog: %s\n", std::strerror(errno));
  }
  std::thread http([&] { svr.listen_after_bind(); });
  std::fprintf(stderr, "bark-server: listening on http://%s:%d (%d workers, queue %d, batch %d); loading models...\n",
               o.host.c_str(), o.port, o.workers, o.queue, o.pipeline.max_batch);
  std::atomic<bool> load_failed{false};
  std::thread loader([&] {
    try {
      service.preload();
      std::fprintf(stderr, "bark-server: ready\n");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      load_failed = true;
      ::kill(::getpid(), SIGTERM);
    }
  });
  int sig = 0;
  sigwait(&signals, &sig);
  if (load_failed) {
    svr.stop();
    loader.join();
    http.detach();
    std::fflush(stderr);
    std::_Exit(1);
  }
  std::fprintf(stderr, "bark-server: %s: draining (%d in flight, up to %.0f s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
               service.in_flight(), o.drain_timeout_s);
  service.start_drain();
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.drain_timeout_s));
  while (service.in_flight() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (service.in_flight() > 0) {
    service.cancel_all();
    while (service.in_flight() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  svr.stop();
  // Idle keep-alive connections would hold cpp-httplib's threads up to the keep-alive timeout:
  // nothing is in flight any more, so the process ends without waiting for them.
  loader.join();
  http.detach();
  std::fprintf(stderr, "bark-server: stopped\n");
  std::fflush(stderr);
  std::_Exit(0);
}

}  // namespace
}  // namespace bark::server

int main(int argc, char** argv) {
  bark::server::Options o;
  CLI::App app{"bark-server: Bark text to speech over HTTP (OpenAI-compatible /v1/audio/speech)", "bark-server"};
  app.set_version_flag("--version", std::string("bark-server ") + bark::version());
  app.add_option("--model-dir", o.pipeline.model_dir, "Model directory (default: $BARK_MODEL_DIR, then ~/.cache/bark-cpp)");
  app.add_flag("--small", o.pipeline.use_small, "Use the small models");
  app.add_option("--device", o.device, "cpu, cuda, mps or auto")->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "mps"}, CLI::ignore_case));
  app.add_option("--threads", o.pipeline.num_threads, "Intra-op threads per generation (default: logical CPUs / --workers, or 1)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  app.add_option("--precision", o.precision, "fp32 (exact), fp16 or int8 (fast modes)")->capture_default_str()
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}, CLI::ignore_case));
  app.add_option("--host", o.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "Port to listen on")->capture_default_str()->check(CLI::Range(1, 65535));
  app.add_option("--workers", o.workers, "Concurrent generations (default: logical CPUs / --threads)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-batch", o.pipeline.max_batch,
                 "Requests whose semantic and coarse stages decode together (1 = off; then --workers defaults "
                 "to it and --threads to the logical CPUs)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--batch-window-ms", o.pipeline.batch_window_ms,
                 "How long a request waits for others to join its batch")
      ->capture_default_str()->check(CLI::Range(0.0, 10000.0));
  app.add_option("--queue", o.queue, "Requests that may wait for a worker; beyond that: 503")->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--api-key-file", o.api_key_file, "Require 'Authorization: Bearer <key>' with the key in this file");
  app.add_option("--max-input-chars", o.max_input_chars, "Longest input text accepted")->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  app.add_option("--max-body-bytes", o.max_body_bytes, "Largest request body (413 beyond)")->capture_default_str();
  app.add_option("--request-timeout", o.request_timeout_s, "Seconds a request may take (504 and cancelled beyond)")
      ->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  app.add_option("--drain-timeout", o.drain_timeout_s, "On SIGTERM: seconds to let requests in flight finish")
      ->capture_default_str()->check(CLI::Range(0.0, 86400.0));
  app.add_flag("--quiet", o.quiet, "No access log (one line per request on stderr)");
  int verbose = 0;
  app.add_flag("-v,--verbose", verbose, "Library log lines on stderr: -v debug (model loads, batches), -vv trace");
  app.add_option("--voice-map", o.voice_map_file, "JSON {name: preset} added to / replacing the OpenAI voice aliases");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "error: %s (see bark-server --help)\n", e.what());
    return 2;
  }
  bark::set_log_level(verbose > 1 ? bark::LogLevel::Trace : verbose == 1 ? bark::LogLevel::Debug : bark::LogLevel::Warn);
  try {
    return bark::server::serve(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
