// Video frames in and out through the `ffmpeg` program: VideoReader decodes any file,
// URL, camera (/dev/videoN) or standard input ("-") that ffmpeg reads into RGB frames with
// their timestamps; VideoWriter encodes RGB frames into a video file; FrameSampler picks
// which frames to analyse (--fps / --every).
//
// Why ffmpeg as a subprocess: it reads every container and codec, needs no linking, and
// a broken file can only fail the child. Frames arrive raw on a pipe; the stream size,
// rate, duration and pixel format come from ffmpeg's own log, and each frame's timestamp
// from the `showinfo` filter (frames pass through unchanged: `-vsync passthrough`, so
// variable-rate videos are neither padded with duplicates nor thinned).
//
// Which raw format: YUV 4:2:0 when the source is YUV (most video), converted to RGB here
// (video/yuv_to_rgb.hpp) with the matrix and range ffmpeg reports for the stream. That
// halves the pipe bytes and skips ffmpeg's slower conversion (1080p decode: 21-23 -> 15-19
// ms of CPU per frame, bench/README.md). ffmpeg picks from "yuv420p|yuvj420p|rgb24" the
// format that loses least: 4:2:0 sources pass untouched, yuvj420p keeps full range,
// 4:2:2/4:4:4/10-bit YUV are reduced to yuv420p (tagged with the range they are converted
// to), and RGB, gray and palette sources come as rgb24, converted by ffmpeg as before.
//
//   mien::VideoReader video("clip.mp4");
//   mien::VideoFrame frame;
//   while (video.read(frame)) use(frame.image, frame.time);
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/video/ffmpeg_source.hpp"
#include "mien/video/subprocess.hpp"
#include "mien/video/yuv_to_rgb.hpp"
#include "mien/vision/image.hpp"

namespace mien {

struct VideoInfo {
  std::string source;
  int width = 0, height = 0;
  double fps = 0;       // nominal frame rate of the stream (0 if ffmpeg did not say)
  double duration = 0;  // seconds (0 if unknown: a camera, a pipe)
  // Frames expected from duration and rate (0 if unknown); for progress and ETA only.
  int64_t expected_frames() const {
    return duration > 0 && fps > 0 ? int64_t(std::llround(duration * fps)) : 0;
  }
};

struct VideoFrame {
  Image image;
  int64_t index = 0;  // 0-based position in the decoded stream
  double time = 0;    // presentation time in seconds
};

struct VideoReaderOptions {
  std::string ffmpeg = "ffmpeg";  // program name or path
  // Largest frame accepted, in pixels (a guard against absurd streams eating memory).
  int64_t max_pixels = MIEN_MAX_IMAGE_PIXELS;
  // Decoding errors (damaged data that ffmpeg conceals) end read() with an Error; by
  // default they are only counted (decode_errors()) for the caller to report.
  bool strict = false;
  // Frames on the pipe as YUV 4:2:0 converted to RGB by mien (Yuv), or as RGB converted by
  // ffmpeg (Rgb). Auto: Yuv where the conversion is vectorised (AVX2), else Rgb (the
  // scalar conversion, ~35 ms per 1080p frame, is slower than ffmpeg's own).
  enum class Transfer { Auto, Yuv, Rgb };
  Transfer transfer = Transfer::Auto;
  Isa isa = default_isa();  // for the YUV -> RGB conversion
};

namespace detail {

// "00:01:02.50" -> 62.5; -1 if not a time.
inline double parse_clock(const std::string& s) {
  int h = 0, m = 0;
  double sec = 0;
  if (std::sscanf(s.c_str(), "%d:%d:%lf", &h, &m, &sec) != 3) return -1;
  return h * 3600.0 + m * 60.0 + sec;
}

// Finds "<W>x<H>" (both > 0) in an ffmpeg stream description.
inline bool parse_size(const std::string& line, int& w, int& h) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != 'x' || i == 0 || !std::isdigit((unsigned char)line[i - 1]) ||
        i + 1 >= line.size() || !std::isdigit((unsigned char)line[i + 1]))
      continue;
    std::size_t b = i;
    while (b > 0 && std::isdigit((unsigned char)line[b - 1])) --b;
    if (b > 0 && line[b - 1] != ' ') continue;  // e.g. "0x18424752" is a fourcc, not a size
    const long ww = std::strtol(line.c_str() + b, nullptr, 10);
    const long hh = std::strtol(line.c_str() + i + 1, nullptr, 10);
    if (ww > 0 && hh > 0 && ww < 1000000 && hh < 1000000) {
      w = int(ww);
      h = int(hh);
      return true;
    }
  }
  return false;
}

// The number before " fps" (or " tbr" as a fallback), 0 if none.
inline double parse_rate(const std::string& line, const char* unit) {
  const std::size_t p = line.find(std::string(" ") + unit);
  if (p == std::string::npos) return 0;
  std::size_t b = p;
  while (b > 0 &&
         (std::isdigit((unsigned char)line[b - 1]) || line[b - 1] == '.' || line[b - 1] == 'k'))
    --b;
  double v = std::strtod(line.c_str() + b, nullptr);
  if (line[p - 1] == 'k') v *= 1000;
  return v;
}

// ffmpeg runs with "-loglevel level+info", which tags each line with its level:
// "[info] Stream #0..." or "[h264 @ 0x..] [error] error while decoding MB 0 3". Returns the
// line without the tag (as plain -loglevel info prints it) and sets `level` ("" if none).
inline std::string strip_log_level(const std::string& line, std::string& level) {
  static const char* levels[] = {"panic", "fatal",   "error", "warning",
                                 "info",  "verbose", "debug", "trace"};
  level.clear();
  std::size_t at = 0;
  if (line.rfind("[", 0) == 0 && line.find(" @ ") != std::string::npos) {
    const std::size_t close = line.find("] [");
    if (close == std::string::npos) return line;
    at = close + 2;
  }
  for (const char* l : levels) {
    const std::string tag = std::string("[") + l + "]";
    if (line.compare(at, tag.size(), tag) == 0) {
      level = l;
      std::size_t rest = at + tag.size();
      if (rest < line.size() && line[rest] == ' ') ++rest;
      return line.substr(0, at) + line.substr(rest);
    }
  }
  return line;
}

// An ffmpeg stream line's pixel format and colour tags: in "... Video: rawvideo (I420 /
// 0x30323449), yuv420p(tv, bt709, progressive), 64x48 ..." the format is "yuv420p", the
// range "tv" and the colorspace "bt709" (ffmpeg prints "space/primaries/trc" when they
// differ; range or colorspace are missing when unspecified). False if there is no format.
inline bool parse_pixel_format(const std::string& line, std::string& format, std::string& range,
                               std::string& colorspace) {
  format.clear();
  range.clear();
  colorspace.clear();
  std::size_t p = line.find("Video: ");
  if (p == std::string::npos) return false;
  // The comma-separated fields after "Video: ", at parenthesis depth 0; the format is the
  // second (the first is the codec).
  p += 7;
  int depth = 0, field = 0;
  std::size_t start = p;
  for (std::size_t i = p; i <= line.size(); ++i) {
    const char c = i < line.size() ? line[i] : ',';
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c != ',' || depth != 0) continue;
    if (field++ == 1) {
      std::string f = line.substr(start, i - start);
      while (!f.empty() && f[0] == ' ') f.erase(0, 1);
      const std::size_t open = f.find('(');
      format = f.substr(0, open);
      if (open != std::string::npos && f.back() == ')') {
        std::string tags = f.substr(open + 1, f.size() - open - 2) + ",";
        for (std::size_t a = 0, b; (b = tags.find(',', a)) != std::string::npos; a = b + 1) {
          std::string t = tags.substr(a, b - a);
          while (!t.empty() && t[0] == ' ') t.erase(0, 1);
          if (t == "tv" || t == "pc")
            range = t;
          else if (colorspace.empty() && !t.empty())
            colorspace = t.substr(0, t.find('/'));
        }
      }
      return !format.empty();
    }
    start = i + 1;
  }
  return false;
}

}  // namespace detail

class VideoReader {
 public:
  explicit VideoReader(const std::string& source, const VideoReaderOptions& opt = {})
      : state_(std::make_shared<State>()), strict_(opt.strict) {
    info_.source = source;
    MIEN_CHECK(!source.empty(), "no video given");
    const bool is_stdin = source == "-";
    const bool is_camera = is_camera_device(source);
    if (!is_stdin && !is_url(source)) {
      struct stat st;
      if (::stat(source.c_str(), &st) != 0) throw Error(source + ": " + std::strerror(errno));
      if (S_ISDIR(st.st_mode)) throw Error(source + ": is a folder, not a video");
    }
    // level+info: errors are told from information by their tag, not by their wording.
    std::vector<std::string> argv = {opt.ffmpeg, "-hide_banner", "-nostats", "-loglevel",
                                     "level+info"};
    if (!is_stdin) argv.push_back("-nostdin");
    if (is_camera) argv.insert(argv.end(), {"-f", "v4l2"});
    const bool want_yuv =
        opt.transfer == VideoReaderOptions::Transfer::Yuv ||
        (opt.transfer == VideoReaderOptions::Transfer::Auto && isa_has_avx2(opt.isa));
    isa_ = opt.isa;
    argv.insert(argv.end(), {"-i", ffmpeg_location(source), "-map", "0:v:0", "-an", "-sn", "-dn"});
    if (want_yuv)
      argv.insert(argv.end(), {"-vf", "showinfo=checksum=0,format=yuv420p|yuvj420p|rgb24"});
    else
      argv.insert(argv.end(), {"-vf", "showinfo=checksum=0", "-pix_fmt", "rgb24"});
    argv.insert(argv.end(), {"-vsync", "passthrough", "-f", "rawvideo", "pipe:1"});
    Subprocess::Options so;
    so.pipe_stdout = true;
    so.inherit_stdin = is_stdin;
    std::shared_ptr<State> st = state_;
    so.on_stderr_line = [st](const std::string& line) { st->on_line(line); };
    so.on_stderr_end = [st] { st->finish(); };
    ffmpeg_.start(argv, std::move(so));

    // Wait for the output stream description (or for ffmpeg to give up).
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->cv.wait(lock, [&] { return state_->have_output || state_->stderr_done; });
    if (!state_->have_output) {
      lock.unlock();
      ffmpeg_.wait();
      throw Error(source + ": ffmpeg cannot read it as a video" + state_->error_tail());
    }
    info_.width = state_->width;
    info_.height = state_->height;
    info_.fps = state_->fps;
    info_.duration = state_->duration;
    const std::string format = state_->format;
    color_.full_range = format == "yuvj420p" || state_->range == "pc";
    color_.colorspace = colorspace_from_name(state_->colorspace);
    lock.unlock();
    if (info_.width <= 0 || info_.height <= 0 ||
        int64_t(info_.width) * info_.height > opt.max_pixels) {
      ffmpeg_.stop();
      throw Error(source + ": unsupported frame size " + std::to_string(info_.width) + "x" +
                  std::to_string(info_.height));
    }
    // Asked for rgb24 alone, ffmpeg gives rgb24; asked for a choice, it must say which.
    yuv_ = want_yuv && (format == "yuv420p" || format == "yuvj420p");
    if (want_yuv && !yuv_ && format != "rgb24") {
      ffmpeg_.stop();
      throw Error(source + ": ffmpeg gives frames as '" + format + "', not RGB or YUV 4:2:0");
    }
    const std::size_t w = std::size_t(info_.width), h = std::size_t(info_.height);
    frame_bytes_ = yuv_ ? w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2) : w * h * 3;
  }

  ~VideoReader() {
    if (!finished_) ffmpeg_.stop();
  }

  const VideoInfo& info() const { return info_; }
  // True when frames come as YUV 4:2:0 and mien converts them (with color()).
  bool yuv() const { return yuv_; }
  const YuvColor& color() const { return color_; }
  int64_t frames_read() const { return next_index_; }

  // Reads the next frame. Returns false at the normal end of the stream. Throws if the
  // stream breaks (ffmpeg fails, a frame is cut short); frames read before stay valid.
  bool read(VideoFrame& frame) {
    if (finished_) return false;
    frame.image.width = info_.width;
    frame.image.height = info_.height;
    frame.image.rgb.resize(std::size_t(info_.width) * std::size_t(info_.height) * 3);
    // One YUV buffer per reader, reused: a frame's RGB buffer is the only per-frame memory.
    if (yuv_) yuv_buffer_.resize(frame_bytes_);
    uint8_t* dst = yuv_ ? yuv_buffer_.data() : frame.image.rgb.data();
    const std::size_t got = ffmpeg_.read_stdout(dst, frame_bytes_);
    if (got == frame_bytes_) {
      if (yuv_) yuv420_to_rgb(dst, info_.width, info_.height, color_, frame.image.rgb.data(), isa_);
      frame.index = next_index_++;
      frame.time = frame_time(frame.index);
      return true;
    }
    finished_ = true;
    const int code = ffmpeg_.wait();
    if (interrupted_) return false;  // whatever ffmpeg said about being stopped
    if (got != 0)
      throw Error(info_.source + ": the stream ended in the middle of frame " +
                  std::to_string(next_index_) + state_->error_tail());
    if (code != 0)
      throw Error(info_.source + ": ffmpeg failed after " + std::to_string(next_index_) +
                  " frames (exit code " + std::to_string(code) + ")" + state_->error_tail());
    if (strict_ && decode_errors() > 0)
      throw Error(info_.source + ": the stream is damaged (" +
                  std::to_string(state_->decode_errors) + " decoding errors in " +
                  std::to_string(next_index_) + " frames)" + state_->error_tail());
    // A file that stops well before the duration its container declares was cut short.
    if (info_.duration > 0 && info_.fps > 0 && next_index_ > 0) {
      const double end = frame_time(next_index_ - 1) + 1.0 / info_.fps;
      if (end < info_.duration - std::max(1.0, 0.1 * info_.duration))
        throw Error(info_.source + ": the stream ends at " + format_seconds(end) + " of the " +
                    format_seconds(info_.duration) + " its container declares (truncated file?)" +
                    state_->error_tail());
    }
    if (next_index_ == 0) throw Error(info_.source + ": no video frames" + state_->error_tail());
    return false;
  }

  // Damaged data ffmpeg reported while decoding so far (error-level log lines and
  // "corrupt decoded frame" warnings); frames were still delivered, with concealed damage.
  int decode_errors() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->decode_errors;
  }

  // Ends the stream early from any thread (SIGINT/SIGTERM handling): ffmpeg is told to
  // stop, read() then returns false, without an error, once the frames already on the
  // pipe are read.
  void interrupt() {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->stopping = true;  // ffmpeg's complaints about being stopped are not damage
    }
    interrupted_ = true;
    ffmpeg_.terminate();
  }
  bool interrupted() const { return interrupted_; }

  // CPU seconds of the ffmpeg process (decoding, conversion to RGB or 4:2:0); known once the stream
  // has ended (read() returned false or threw) or close() was called, else 0.
  double ffmpeg_cpu_seconds() const { return ffmpeg_.cpu_seconds(); }

  // Stops decoding early (the remaining frames are not needed).
  void close() {
    if (finished_) return;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->stopping = true;
    }
    finished_ = true;
    ffmpeg_.stop();
  }

 private:
  static std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
  }

  // The frame's showinfo timestamp; the stderr line may trail the frame data slightly, so
  // wait for it unless ffmpeg's stderr has ended. Falls back to index / fps.
  double frame_time(int64_t index) {
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->cv.wait(lock, [&] { return state_->stderr_done || state_->times_seen > index; });
    const int64_t first = state_->times_seen - int64_t(state_->times.size());
    double t = -1;
    if (index >= first && index < state_->times_seen) t = state_->times[std::size_t(index - first)];
    // Forget timestamps already used (their frames are delivered in order).
    while (!state_->times.empty() && state_->times_seen - int64_t(state_->times.size()) <= index)
      state_->times.pop_front();
    if (t < 0) t = info_.fps > 0 ? double(index) / info_.fps : double(index);
    return t;
  }

  // Shared with the stderr thread, which may outlive a moved-from reader only briefly.
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    bool in_output = false, have_output = false, stderr_done = false, stopping = false;
    int width = 0, height = 0;
    double fps = 0, duration = 0;
    std::string format, range, colorspace;  // the output stream's pixel format and tags
    std::deque<double> times;
    int64_t times_seen = 0;
    int decode_errors = 0;
    std::deque<std::string> log;  // last lines that are not per-frame info

    void on_line(const std::string& tagged) {
      std::string level;
      const std::string line = detail::strip_log_level(tagged, level);
      std::lock_guard<std::mutex> lock(mutex);
      if (line.rfind("[Parsed_showinfo", 0) == 0) {
        const std::size_t p = line.find("pts_time:");
        if (p != std::string::npos && line.find(" n:") != std::string::npos) {
          times.push_back(std::strtod(line.c_str() + p + 9, nullptr));
          ++times_seen;
          cv.notify_all();
        }
        return;
      }
      if (line.find("Duration: ") != std::string::npos && duration == 0) {
        const double d = detail::parse_clock(line.substr(line.find("Duration: ") + 10));
        if (d > 0) duration = d;
      }
      if (line.rfind("Output #0", 0) == 0) in_output = true;
      if (in_output && !have_output && line.find("Stream #") != std::string::npos &&
          line.find("Video:") != std::string::npos) {
        detail::parse_size(line, width, height);
        detail::parse_pixel_format(line, format, range, colorspace);
        fps = detail::parse_rate(line, "fps");
        if (fps <= 0) fps = detail::parse_rate(line, "tbr");
        have_output = true;
        cv.notify_all();
      }
      // Broken data while decoding: every error-level line (h264 "error while decoding MB",
      // "Invalid NAL unit size", mov "partial file", ...), and the warning ffmpeg gives for
      // a frame the decoder flagged as corrupt (sometimes the only sign of damage).
      if (!stopping && (level == "error" || level == "fatal" || level == "panic" ||
                        line.find("corrupt decoded frame") != std::string::npos))
        ++decode_errors;
      if (line.rfind("frame=", 0) != 0 && line.rfind("video:", 0) != 0 && line[0] != ' ') {
        log.push_back(line);
        if (log.size() > 6) log.pop_front();
      }
    }
    void finish() {
      std::lock_guard<std::mutex> lock(mutex);
      stderr_done = true;
      cv.notify_all();
    }
    // ffmpeg's last messages, for error reports.
    std::string error_tail() {
      std::lock_guard<std::mutex> lock(mutex);
      std::string s;
      for (const std::string& l : log)
        if (l.rfind("Input #", 0) != 0 && l.rfind("Output #", 0) != 0 &&
            l.rfind("Stream mapping", 0) != 0 && l.find("deprecated") == std::string::npos)
          s += "\n  ffmpeg: " + l;
      return s;
    }
  };

  std::shared_ptr<State> state_;
  Subprocess ffmpeg_;
  VideoInfo info_;
  std::size_t frame_bytes_ = 0;  // on the pipe
  bool yuv_ = false;
  YuvColor color_;
  Isa isa_ = Isa::Scalar;
  std::vector<uint8_t> yuv_buffer_;
  int64_t next_index_ = 0;
  bool finished_ = false;
  bool strict_ = false;
  std::atomic<bool> interrupted_{false};
};

// Which decoded frames to analyse: every one, every Nth (--every N), or about F per second
// of video time (--fps F: a frame is taken when it starts a new 1/F-second slot, so the
// sampled times follow the stream's own timestamps, also for variable-rate video).
class FrameSampler {
 public:
  static FrameSampler all() { return FrameSampler(); }
  static FrameSampler every(int n) {
    MIEN_CHECK(n >= 1, "--every must be at least 1");
    FrameSampler s;
    s.every_ = n;
    return s;
  }
  static FrameSampler per_second(double fps) {
    MIEN_CHECK(fps > 0, "the sampling rate must be positive");
    FrameSampler s;
    s.fps_ = fps;
    return s;
  }

  // Seconds between analysed frames in a stream of `stream_fps` frames/s (0 if unknown).
  double interval(double stream_fps) const {
    if (fps_ > 0) return 1.0 / fps_;
    return stream_fps > 0 ? every_ / stream_fps : 0.0;
  }

  bool take(const VideoFrame& f) {
    if (fps_ > 0) {
      const int64_t slot = int64_t(std::floor(f.time * fps_ + 1e-6));
      if (slot <= last_slot_) return false;
      last_slot_ = slot;
      return true;
    }
    return f.index % every_ == 0;
  }

 private:
  int every_ = 1;
  double fps_ = 0;
  int64_t last_slot_ = INT64_MIN;
};

}  // namespace mien
