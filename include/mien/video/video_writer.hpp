// Encodes RGB frames into a video file with an `ffmpeg` subprocess (raw RGB24 on its
// stdin). The container and codec follow the file name's extension, as ffmpeg chooses
// them (H.264 for .mp4/.mkv with Debian's ffmpeg); frames are converted to yuv420p, which
// every player reads, after padding odd sizes to even ones (yuv420p needs them).
//
//   mien::VideoWriter out("annotated.mp4", width, height, fps);
//   out.write(image);  // every frame, same size
//   out.finish();      // flushes and checks that ffmpeg succeeded
#pragma once

#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/video/ffmpeg_source.hpp"
#include "mien/video/subprocess.hpp"
#include "mien/vision/image.hpp"

namespace mien {

class VideoWriter {
 public:
  VideoWriter(const std::string& path, int width, int height, double fps,
              const std::string& ffmpeg = "ffmpeg")
      : path_(path), width_(width), height_(height), log_(std::make_shared<Log>()) {
    MIEN_CHECK(width > 0 && height > 0, "cannot write a video of size ", width, "x", height);
    MIEN_CHECK(fps > 0 && fps < 10000, "cannot write a video at ", fps, " frames/s");
    char rate[32], size[32];
    std::snprintf(rate, sizeof rate, "%.6g", fps);
    std::snprintf(size, sizeof size, "%dx%d", width, height);
    Subprocess::Options so;
    so.pipe_stdin = true;
    std::shared_ptr<Log> log = log_;
    so.on_stderr_line = [log](const std::string& line) { log->add(line); };
    // -preset veryfast: x264's default (medium) made encoding, not analysis, the slowest
    // stage of `mien video --draw` (55 vs 165 frames/s on 640x360); other encoders ignore it.
    const std::vector<std::string> argv = {ffmpeg,
                                           "-hide_banner",
                                           "-nostats",
                                           "-loglevel",
                                           "error",
                                           "-y",
                                           "-f",
                                           "rawvideo",
                                           "-pix_fmt",
                                           "rgb24",
                                           "-s",
                                           size,
                                           "-r",
                                           rate,
                                           "-i",
                                           "pipe:0",
                                           "-vf",
                                           "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                                           "-pix_fmt",
                                           "yuv420p",
                                           "-preset",
                                           "veryfast",
                                           ffmpeg_location(path, true)};
    ffmpeg_.start(argv, std::move(so));
  }
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;
  ~VideoWriter() {
    if (!finished_) {
      try {
        finish();
      } catch (const Error&) {  // a destructor cannot report it; call finish() to know
      }
    }
  }

  void write(const Image& frame) {
    MIEN_CHECK(!finished_, path_, ": the video was already finished");
    MIEN_CHECK(frame.valid() && frame.width == width_ && frame.height == height_, path_,
               ": frame of size ", frame.width, "x", frame.height, " in a video of ", width_, "x",
               height_);
    if (!ffmpeg_.write_stdin(frame.rgb.data(), frame.rgb.size())) {
      finished_ = true;
      ffmpeg_.close_stdin();
      const int code = ffmpeg_.wait();
      throw Error(path_ + ": ffmpeg stopped encoding (exit code " + std::to_string(code) + ")" +
                  log_->tail());
    }
    ++frames_;
  }

  // Ends the stream and waits for ffmpeg to write the file. Throws if encoding failed.
  void finish() {
    if (finished_) return;
    finished_ = true;
    ffmpeg_.close_stdin();
    const int code = ffmpeg_.wait();
    if (code != 0)
      throw Error(path_ + ": ffmpeg failed to encode the video (exit code " + std::to_string(code) +
                  ")" + log_->tail());
  }

  int64_t frames_written() const { return frames_; }
  // CPU seconds of the ffmpeg encoder, known after finish(), else 0.
  double ffmpeg_cpu_seconds() const { return ffmpeg_.cpu_seconds(); }

 private:
  struct Log {
    std::mutex mutex;
    std::deque<std::string> lines;
    void add(const std::string& l) {
      std::lock_guard<std::mutex> lock(mutex);
      lines.push_back(l);
      if (lines.size() > 6) lines.pop_front();
    }
    std::string tail() {
      std::lock_guard<std::mutex> lock(mutex);
      std::string s;
      for (const std::string& l : lines) s += "\n  ffmpeg: " + l;
      return s;
    }
  };

  std::string path_;
  int width_, height_;
  std::shared_ptr<Log> log_;
  Subprocess ffmpeg_;
  int64_t frames_ = 0;
  bool finished_ = false;
};

}  // namespace mien
