// `mien serve`: an HTTP API and a web page over one shared Pipeline.
//
//   GET  /            the page (tools/cli/web/index.html, compiled in)
//   POST /v1/analyze  a photo -> `mien image --json`'s object (+ timing); ?draw=1 -> the
//                     annotated image; ?track=ID -> webcam frames with track ids and
//                     smoothed emotions (serve_sessions.hpp)
//   POST /v1/video    a video file -> per-second timeline and summary; ?stream=1 -> NDJSON
//                     progress events, then the result
//   GET  /v1/models   the models and their metadata;  GET /healthz
//
// HTTP is cpp-httplib (Debian libcpp-httplib-dev) and JSON nlohmann-json: well-kept
// libraries, not a server of our own. Safe by default: loopback only, bodies limited,
// socket timeouts, a bounded number of requests in the server (503 beyond), photos decoded
// under the image reader's limits, uploads never named by the client, every failure a 4xx
// or 5xx with a JSON body, and SIGINT/SIGTERM finish the requests in flight before exiting.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mien/core/thread_pool.hpp"
#include "mien/io/faces.hpp"
#include "mien/video/video_analyzer.hpp"
#include "mien/vision/annotate.hpp"
#include "mien/vision/image.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/interrupt.hpp"
#include "tools/cli/pipeline_options.hpp"

#if MIEN_HAVE_HTTPLIB
#include <httplib.h>

#include "tools/cli/serve_json.hpp"
#include "tools/cli/serve_limits.hpp"
#include "tools/cli/serve_sessions.hpp"
#include "tools/cli/serve_upload.hpp"
#endif

namespace mien::cli {

#if MIEN_HAVE_HTTPLIB

// The page, tools/cli/web/index.html compiled in (tools/cli/serve_page.cpp).
extern const char* const kServePage;
inline const char* serve_page() {
  return kServePage;
}

struct ServeConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 1;       // photos analysed at once (and frames of a video in parallel)
  int max_requests = 4;  // photo requests in the server (running + waiting); 503 beyond
  int max_videos = 1;    // videos analysed at once; 503 beyond
  std::size_t max_body = std::size_t(20) << 20;
  std::size_t max_video = std::size_t(200) << 20;
  int timeout = 30;            // socket read/write timeout, seconds
  double video_timeout = 300;  // a video's analysis is cut off after this long
  double video_fps = 0;        // default frame sampling of videos (0: every frame)
  bool quiet = false;
  std::string ffmpeg = "ffmpeg";
};

class MienServer {
 public:
  MienServer(const ServeConfig& cfg, const PipelineModels& models, const PipelineOptions& opt,
             const DecodeLimits& limits)
      : cfg_(cfg),
        models_(models),
        pipeline_(models),
        opt_(opt),
        limits_(limits),
        photos_(cfg.threads, cfg.max_requests),
        videos_(cfg.max_videos, cfg.max_videos),
        sessions_(32, 30.0, SmoothingOptions{}) {
    opt_.detect.threads = 1;  // requests run side by side; each one on its own thread
    routes();
  }

  // Binds (port 0: any free port) and prints the address; false when the address is taken.
  bool bind() {
    if (cfg_.port == 0) {
      port_ = svr_.bind_to_any_port(cfg_.host);
      if (port_ <= 0) return false;
    } else {
      if (!svr_.bind_to_port(cfg_.host, cfg_.port)) return false;
      port_ = cfg_.port;
    }
    const bool v6 = cfg_.host.find(':') != std::string::npos;
    std::printf("mien serve: listening on http://%s%s%s:%d\n", v6 ? "[" : "", cfg_.host.c_str(),
                v6 ? "]" : "", port_);
    std::fflush(stdout);
    return true;
  }

  // Serves until stop(); then every request already accepted is finished.
  void run() {
    if (!stopping_) svr_.listen_after_bind();
    run_done_ = true;
  }

  // From any thread: stop accepting, cut running videos short (their partial results are
  // still sent), let the requests in flight finish.
  void stop() {
    stopping_ = true;
    {
      std::lock_guard<std::mutex> lock(readers_mutex_);
      for (VideoReader* r : readers_) r->interrupt();
    }
    // httplib's stop() does nothing before the accept loop has started: a signal right
    // after bind() would be lost. Wait (briefly) for the loop, or for run() to give up.
    for (int i = 0; i < 5000 && !svr_.is_running() && !run_done_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    svr_.stop();
  }

  long long served() const { return served_.load(); }

 private:
  using Request = httplib::Request;
  using Response = httplib::Response;

  static void send_error(Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(error_json(status, message), "application/json");
  }
  static void send_json(Response& res, const Json& j) {
    res.status = 200;
    res.set_content(json_text(j) + "\n", "application/json");
  }
  // After a refusal that left the body unread the connection cannot carry another request.
  static void refuse(Response& res, int status, const std::string& message) {
    send_error(res, status, message);
    res.set_header("Connection", "close");
  }

  static bool loopback_host(const std::string& h) {
    return h == "127.0.0.1" || h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
  }

  void routes() {
    svr_.set_read_timeout(cfg_.timeout, 0);
    svr_.set_write_timeout(cfg_.timeout, 0);
    svr_.set_keep_alive_timeout(5);
    svr_.set_payload_max_length(std::max(cfg_.max_body, cfg_.max_video));
    // httplib's default sets SO_REUSEPORT on Linux: a second `mien serve` on the same port
    // would then start without complaint and take half the connections. SO_REUSEADDR
    // alone still allows a restart while old connections linger in TIME_WAIT.
    svr_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    // One thread per connection: enough for every admitted request plus a few for the
    // page, health checks and the quick 503s (a full server must still answer).
    const std::size_t pool = std::size_t(cfg_.max_requests + cfg_.max_videos + 8);
    svr_.new_task_queue = [pool] { return new httplib::ThreadPool(pool); };

    svr_.set_pre_routing_handler([this](const Request& req, Response& res) {
      // Bound to loopback, accept only loopback names: a web page elsewhere cannot reach
      // the API through DNS rebinding (its Host header names its own domain).
      if (loopback_host(cfg_.host) && req.has_header("Host")) {
        std::string h = req.get_header_value("Host");
        if (!h.empty() && h[0] == '[')
          h = h.substr(1, h.find(']') - 1);
        else
          h = h.substr(0, h.find(':'));
        if (!loopback_host(h)) {
          refuse(res, 403, "Host '" + h + "' is not this loopback server");
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Cache-Control", "no-store");
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // httplib's own refusals (unknown path, oversize body, malformed request) as JSON too.
    svr_.set_error_handler([](const Request&, Response& res) {
      if (!res.body.empty()) return;
      const int s = res.status;
      const std::string msg = s == 404   ? "no such endpoint (see GET / and the README)"
                              : s == 413 ? "request body too large"
                              : s == 400 ? "malformed request"
                                         : "request refused (HTTP " + std::to_string(s) + ")";
      send_error(res, s, msg);
    });
    svr_.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = std::string("internal error: ") + e.what();
      } catch (...) {
      }
      send_error(res, 500, what);
    });
    svr_.set_logger([this](const Request& req, const Response& res) {
      ++served_;
      if (!cfg_.quiet)
        std::fprintf(stderr, "mien serve: %s %s%s %d %zu bytes\n", req.method.c_str(),
                     req.path.c_str(), req.params.empty() ? "" : "?...", res.status,
                     res.body.size());
    });

    svr_.Get("/", [](const Request&, Response& res) {
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                     "style-src 'unsafe-inline'; script-src 'unsafe-inline'");
      res.set_content(serve_page(), "text/html; charset=utf-8");
    });
    svr_.Get("/healthz", [this](const Request&, Response& res) {
      Json j;
      j["status"] = stopping_ ? "stopping" : "ok";
      j["in_flight"] = photos_.in_flight();
      j["running"] = photos_.running();
      j["max_in_flight"] = photos_.max_in_flight();
      j["threads"] = photos_.max_running();
      j["videos"] = videos_.in_flight();
      send_json(res, j);
    });
    svr_.Get("/v1/models", [this](const Request&, Response& res) {
      Json j = models_json(models_, pipeline_);
      j["options"] = {{"threshold", json_number(opt_.detect.threshold)},
                      {"min_face", json_number(opt_.detect.min_face)},
                      {"tta", opt_.flip_tta},
                      {"gender", opt_.gender && pipeline_.has_gender()},
                      {"age", opt_.age && pipeline_.has_age()},
                      {"max_pixels", limits_.max_pixels},
                      {"max_body_bytes", cfg_.max_body},
                      {"max_video_bytes", cfg_.max_video}};
      send_json(res, j);
    });
    svr_.Post("/v1/analyze",
              [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
                analyze(req, res, reader);
              });
    svr_.Post("/v1/video",
              [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
                video(req, res, reader);
              });
    // A known path with the wrong method: 405 with the methods it takes.
    const std::vector<std::pair<std::string, std::string>> known = {{"/", "GET"},
                                                                    {"/healthz", "GET"},
                                                                    {"/v1/models", "GET"},
                                                                    {"/v1/analyze", "POST"},
                                                                    {"/v1/video", "POST"}};
    for (const auto& [path, allow] : known) {
      auto wrong = [allow = allow](const Request& req, Response& res) {
        res.set_header("Allow", allow);
        refuse(res, 405, req.method + " is not allowed here; use " + allow);
      };
      if (allow == "GET") {
        svr_.Post(path, wrong);
      } else {
        svr_.Get(path, wrong);
      }
      svr_.Put(path, wrong);
      svr_.Patch(path, wrong);
      svr_.Delete(path, wrong);
    }
  }

  static double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

  void analyze(const Request& req, Response& res, const httplib::ContentReader& reader) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t cap = std::max(cfg_.max_body, cfg_.max_video);  // httplib's limit
    // A refusal before the upload is read drops the body first (discard_body); a busy
    // server only reads it, it does not decode or analyse it.
    auto refuse_unread = [&](int status, const std::string& message) {
      discard_body(req, reader, cap);
      refuse(res, status, message);
    };
    Admission::Ticket ticket = photos_.enter();
    if (!ticket.admitted()) {
      res.set_header("Retry-After", "1");
      return refuse_unread(503, "busy: " + std::to_string(photos_.max_in_flight()) +
                                    " requests in flight; retry later");
    }
    const std::string type = media_type(req);
    if (!acceptable_upload_type(type, "image"))
      return refuse_unread(
          415, "unsupported Content-Type '" + type +
                   "': send the image's bytes as image/* or application/octet-stream, or "
                   "a multipart form (curl -F image=@photo.jpg)");
    const std::string session = req.get_param_value("track");
    if (req.has_param("track") && !LiveSessions::valid_id(session))
      return refuse_unread(400, "track must be 1-64 letters, digits, '-' or '_'");
    const bool draw = req.get_param_value("draw") == "1";
    std::string format = req.get_param_value("format");
    if (!format.empty() && format != "png" && format != "jpg" && format != "jpeg")
      return refuse_unread(400, "format must be png or jpg");
    std::string body;
    const UploadResult up =
        read_upload(req, reader, cfg_.max_body, cap, [&](const char* d, size_t n) {
          body.append(d, n);
          return true;
        });
    if (!up.ok) return refuse(res, up.status, up.message);
    const double read_ms = ms_since(t0);
    ticket.run();  // waits for one of the --threads slots
    const auto t1 = std::chrono::steady_clock::now();
    const std::string name = up.filename.empty() ? "-" : up.filename;
    Image img;
    try {
      img = decode_image(reinterpret_cast<const uint8_t*>(body.data()), body.size(), "upload",
                         limits_);
    } catch (const Error& e) {
      return send_error(res, 400, e.what());
    }
    const double decode_ms = ms_since(t1);
    const auto t2 = std::chrono::steady_clock::now();
    const std::vector<FaceResult> faces = pipeline_.analyze(img, opt_);
    const double analyze_ms = ms_since(t2);
    if (draw) {
      AnnotateOptions ao;
      ao.landmarks = req.get_param_value("landmarks") == "1";
      annotate(img, faces, pipeline_, {}, ao);
      if (format.empty()) {
        const bool jpeg = body.size() > 2 && uint8_t(body[0]) == 0xFF && uint8_t(body[1]) == 0xD8;
        format = jpeg ? "jpg" : "png";
      }
      const std::vector<uint8_t> out = encode_image(img, format);
      res.set_header("X-Mien-Faces", std::to_string(faces.size()));
      res.set_content(reinterpret_cast<const char*>(out.data()), out.size(),
                      format == "png" ? "image/png" : "image/jpeg");
      return;
    }
    Json j = image_json(name, img, faces, pipeline_);
    if (!session.empty()) {
      std::shared_ptr<LiveSession> live = sessions_.get(session);
      if (!live) return send_error(res, 503, "too many webcam sessions; retry later");
      std::lock_guard<std::mutex> lock(live->mutex());
      add_live_faces(j, live->update(img, faces), pipeline_);
    }
    j["timing_ms"] = {{"read", json_fixed(read_ms, 1)},
                      {"decode", json_fixed(decode_ms, 1)},
                      {"analyze", json_fixed(analyze_ms, 1)},
                      {"total", json_fixed(ms_since(t0), 1)}};
    send_json(res, j);
  }

  // Keeps a VideoReader reachable by stop() and cuts it off after the video timeout.
  class ReaderWatch {
   public:
    ReaderWatch(MienServer& s, VideoReader& r) : s_(s), r_(r) {
      {
        std::lock_guard<std::mutex> lock(s_.readers_mutex_);
        s_.readers_.insert(&r_);
        if (s_.stopping_) r_.interrupt();
      }
      timer_ = std::thread([this] {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!cv_.wait_for(lock, std::chrono::duration<double>(s_.cfg_.video_timeout),
                          [&] { return done_; })) {
          timed_out_ = true;
          r_.interrupt();
        }
      });
    }
    ReaderWatch(const ReaderWatch&) = delete;
    ReaderWatch& operator=(const ReaderWatch&) = delete;
    ~ReaderWatch() {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
      }
      cv_.notify_all();
      timer_.join();
      std::lock_guard<std::mutex> lock(s_.readers_mutex_);
      s_.readers_.erase(&r_);
    }
    bool timed_out() {
      std::lock_guard<std::mutex> lock(mutex_);
      return timed_out_;
    }

   private:
    MienServer& s_;
    VideoReader& r_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false, timed_out_ = false;
    std::thread timer_;
  };

  // Error messages name the upload, not the server's temporary file, and drop the memory
  // addresses ffmpeg prints ("[mp3 @ 0x55d0...]"): nothing about the server's layout leaks.
  static std::string hide_path(std::string msg, const std::string& path) {
    for (std::size_t p; (p = msg.find(path)) != std::string::npos;)
      msg.replace(p, path.size(), "upload");
    for (std::size_t p = 0; (p = msg.find(" @ 0x", p)) != std::string::npos;) {
      std::size_t e = p + 5;
      while (e < msg.size() && std::isxdigit(static_cast<unsigned char>(msg[e]))) ++e;
      msg.erase(p, e - p);
    }
    return msg;
  }

  // Analyses the opened upload (`path` only to hide it in messages); `emit` (may be empty)
  // gets the progress events. Returns the result, or an error object
  // ({"type":"error",...}) when no frame could be read.
  Json run_video(VideoReader& video, const std::string& path, double fps,
                 const std::function<bool(const Json&)>& emit) {
    const auto t0 = std::chrono::steady_clock::now();
    const VideoInfo& info = video.info();
    if (emit)
      emit({{"type", "info"},
            {"width", info.width},
            {"height", info.height},
            {"fps", json_number(info.fps)},
            {"duration", json_fixed(info.duration, 2)},
            {"expected_frames", info.expected_frames()}});
    VideoOptions vo;
    vo.pipeline = opt_;
    vo.threads = cfg_.threads;
    vo.pipeline.detect.threads = cfg_.threads;
    if (fps > 0) vo.sampler = FrameSampler::per_second(fps);
    VideoAnalyzer analyzer(pipeline_, vo);
    std::string error;
    bool client_gone = false, timed_out = false;
    {
      ReaderWatch watch(*this, video);
      auto last = std::chrono::steady_clock::now();
      try {
        analyzer.run(video, [&](VideoFrame&, const FrameResult& r) {
          const auto now = std::chrono::steady_clock::now();
          if (!emit || now - last < std::chrono::milliseconds(250)) return;
          last = now;
          if (!emit({{"type", "progress"},
                     {"frames", r.index + 1},
                     {"expected_frames", info.expected_frames()},
                     {"seconds", json_fixed(r.time, 2)}})) {
            client_gone = true;  // nobody to send the result to: stop decoding
            video.interrupt();
          }
        });
      } catch (const Error& e) {
        error = hide_path(e.what(), path);
      }
      timed_out = watch.timed_out();
    }
    if (client_gone) return {{"type", "error"}, {"status", 499}, {"error", "client went away"}};
    if (!error.empty() && analyzer.frames_decoded() == 0)
      return {{"type", "error"}, {"status", 400}, {"error", error}};
    Json j = video_result_json(info, analyzer, pipeline_, video.decode_errors());
    // Cut short by the timeout or a server shutdown: the result covers the frames before.
    j["interrupted"] = video.interrupted();
    if (timed_out) j["warning"] = "analysis stopped after --video-timeout seconds";
    if (!error.empty()) j["error"] = error;  // the stream broke after these frames
    j["timing_ms"] = {{"total", json_fixed(ms_since(t0), 1)}};
    return j;
  }

  void video(const Request& req, Response& res, const httplib::ContentReader& reader) {
    const std::size_t cap = std::max(cfg_.max_body, cfg_.max_video);
    auto refuse_unread = [&](int status, const std::string& message) {
      discard_body(req, reader, cap);
      refuse(res, status, message);
    };
    auto ticket = std::make_shared<Admission::Ticket>(videos_.enter());
    if (!ticket->admitted()) {
      res.set_header("Retry-After", "5");
      return refuse_unread(503, "busy: a video is being analysed; retry later");
    }
    const std::string type = media_type(req);
    if (!acceptable_upload_type(type, "video"))
      return refuse_unread(
          415, "unsupported Content-Type '" + type +
                   "': send the video's bytes as video/* or application/octet-stream, or "
                   "a multipart form (curl -F video=@clip.mp4)");
    double fps = cfg_.video_fps;
    if (req.has_param("fps")) {
      const std::string v = req.get_param_value("fps");
      char* end = nullptr;
      fps = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(fps >= 0.1 && fps <= 120))
        return refuse_unread(400, "fps must be a number from 0.1 to 120");
    }
    const bool stream = req.get_param_value("stream") == "1";
    auto upload = std::make_shared<TempUpload>();
    if (!upload->ok()) return refuse(res, 500, "cannot create a temporary file for the upload");
    const UploadResult up =
        read_upload(req, reader, cfg_.max_video, cap,
                    [&](const char* d, size_t n) { return upload->write(d, n); });
    if (!up.ok) return refuse(res, up.status, up.message);
    if (!upload->close()) return refuse(res, 500, "cannot store the upload");
    if (looks_like_text(upload->head()))
      return refuse(res, 415, "the upload is text, not a video (playlists are refused)");
    ticket->run();
    // Opened here, not in the stream: a file ffmpeg cannot read is a 400 either way.
    std::shared_ptr<VideoReader> video;
    try {
      VideoReaderOptions ro;
      ro.ffmpeg = cfg_.ffmpeg;
      video = std::make_shared<VideoReader>(upload->path(), ro);
    } catch (const Error& e) {
      return send_error(res, 400, hide_path(e.what(), upload->path()));
    }
    if (!stream) {
      const Json j = run_video(*video, upload->path(), fps, {});
      if (j["type"] == "error") return send_error(res, j["status"].get<int>(), j["error"]);
      return send_json(res, j);
    }
    // NDJSON: one event per line (info, progress..., then result or error), sent as the
    // analysis goes. The status is 200 once streaming starts; failures are error events.
    res.set_chunked_content_provider("application/x-ndjson", [this, upload, ticket, video, fps](
                                                                 size_t, httplib::DataSink& sink) {
      auto emit = [&](const Json& j) {
        const std::string line = json_text(j) + "\n";
        return sink.write(line.data(), line.size());
      };
      emit(run_video(*video, upload->path(), fps, emit));
      sink.done();
      return true;
    });
  }

  ServeConfig cfg_;
  PipelineModels models_;
  Pipeline pipeline_;
  PipelineOptions opt_;
  DecodeLimits limits_;
  Admission photos_, videos_;
  LiveSessions sessions_;
  httplib::Server svr_;
  int port_ = 0;
  std::atomic<bool> stopping_{false}, run_done_{false};
  std::atomic<long long> served_{0};
  std::mutex readers_mutex_;
  std::set<VideoReader*> readers_;
};

#endif  // MIEN_HAVE_HTTPLIB

inline int cmd_serve(const std::vector<std::string>& argv) {
  ArgParser args("mien serve [options]",
                 "Serve the face pipeline over HTTP: a web page at / (photo, webcam, video) and\n"
                 "a JSON API (POST /v1/analyze, POST /v1/video, GET /v1/models, GET /healthz).\n"
                 "SIGINT or SIGTERM stops accepting and finishes the requests in flight.");
  args.option("--host", "ADDR", "address to listen on (0.0.0.0: every interface)", "127.0.0.1")
      .option("--port", "PORT", "port; 0 picks a free one (the address is printed)", "8080")
      .option("--threads", "N", "photos analysed at once; a video's frames in parallel",
              "all cores")
      .option("--max-requests", "N",
              "photo requests in the server at once (running or waiting); 503 beyond",
              "4 x threads")
      .option("--max-body-mb", "MB", "largest photo upload", "20")
      .option("--max-video-mb", "MB", "largest video upload", "200")
      .option("--max-videos", "N", "videos analysed at once; 503 beyond", "1")
      .option("--video-fps", "F", "analyse about F frames per second of video (default: all)")
      .option("--video-timeout", "S", "stop a video's analysis after S seconds (partial result)",
              "300")
      .option("--timeout", "S", "socket read/write timeout", "30")
      .option("--max-pixels", "N", "refuse images larger than N pixels", "50000000")
      .option("--ffmpeg", "PATH", "the ffmpeg program", "ffmpeg")
      .flag("--tta", "average each face with its mirror image (test-time augmentation)")
      .flag("--quiet", "no request log on stderr");
  add_model_options(args);
  add_detect_options(args);
  if (!args.parse(argv)) return 0;
  if (!args.positional().empty()) throw UsageError("mien serve takes no arguments, only options");
#if MIEN_HAVE_HTTPLIB
  ServeConfig cfg;
  cfg.host = args.get("--host");
  cfg.port = args.get_int("--port", 0, 65535);
  cfg.threads = args.has("--threads") ? args.get_int("--threads", 1, 256) : hardware_threads();
  cfg.max_requests =
      args.has("--max-requests") ? args.get_int("--max-requests", 1, 4096) : 4 * cfg.threads;
  if (cfg.max_requests < cfg.threads) throw UsageError("--max-requests must be at least --threads");
  cfg.max_body = std::size_t(args.get_int("--max-body-mb", 1, 1024)) << 20;
  cfg.max_video = std::size_t(args.get_int("--max-video-mb", 1, 16384)) << 20;
  cfg.max_videos = args.get_int("--max-videos", 1, 64);
  if (args.has("--video-fps")) cfg.video_fps = args.get_double("--video-fps", 0.1, 120);
  cfg.video_timeout = args.get_double("--video-timeout", 1, 86400);
  cfg.timeout = args.get_int("--timeout", 1, 3600);
  cfg.quiet = args.has("--quiet");
  cfg.ffmpeg = args.get("--ffmpeg");
  DecodeLimits limits;
  limits.max_pixels = args.get_int("--max-pixels", 1, int(MIEN_MAX_IMAGE_PIXELS));
  PipelineOptions opt = pipeline_options(args);
  opt.flip_tta = args.has("--tta");
  MienServer server(cfg, make_pipeline_models(args), opt, limits);
  if (!server.bind())
    throw Error("cannot listen on " + cfg.host + ":" + std::to_string(cfg.port) +
                " (address in use or not available)");
  InterruptWatch watch([&] { server.stop(); });
  server.run();
  std::fprintf(stderr, "mien serve: stopped by %s after %lld requests\n",
               InterruptWatch::signal() == SIGTERM ? "SIGTERM" : "SIGINT", server.served());
  return 0;
#else
  throw Error(
      "this mien was built without cpp-httplib: install libcpp-httplib-dev and rebuild for "
      "`mien serve`");
#endif
}

}  // namespace mien::cli
