// `mien video VIDEO...`: faces tracked through each video, their smoothed emotion and
// gender, a per-second timeline (--json), per-frame rows (--csv), an annotated copy
// (--draw), and a clip label per video (--summary file,label).
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mien/core/parallel.hpp"
#include "mien/io/video_results.hpp"
#include "mien/video/video_analyzer.hpp"
#include "mien/video/video_writer.hpp"
#include "mien/vision/annotate.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/interrupt.hpp"
#include "tools/cli/output_names.hpp"
#include "tools/cli/pipeline_options.hpp"
#include "tools/cli/progress.hpp"

namespace mien::cli {

// A file opened for writing that reports failures as mien errors.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "w")) {
    if (!f_) throw Error(path + ": cannot write: " + std::strerror(errno));
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (f_) std::fclose(f_);
  }
  void write(const std::string& s) { std::fwrite(s.data(), 1, s.size(), f_); }
  void flush() { std::fflush(f_); }
  void close() {
    const bool bad = std::ferror(f_) != 0;
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (bad || rc != 0) throw Error(path_ + ": writing failed");
  }

 private:
  std::string path_;
  std::FILE* f_;
};

// Distribution as "neutral 54%  happy 30% ..." (largest first, shares >= 1%).
inline std::string distribution_text(const TrackSummary& t, const Pipeline& p) {
  std::vector<int> order(t.counts.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return t.counts[std::size_t(a)] > t.counts[std::size_t(b)];
  });
  std::string s;
  for (int k : order) {
    const double share = t.share(k);
    if (share < 0.01) continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s %.0f%%", s.empty() ? "" : "  ",
                  p.emotion_labels()[std::size_t(k)].c_str(), share * 100);
    s += buf;
  }
  return s;
}

inline void print_clip_summary(const std::string& file, const VideoInfo& info,
                               const VideoAnalyzer& a, double seconds, const Pipeline& p) {
  const std::vector<Track> tracks = a.tracks();  // confirmed ones
  std::printf(
      "%s  %dx%d  %.2f fps  %lld frames (%lld analysed) in %.2f s: %.1f frames/s  %lld shot cut%s  "
      "%zu track%s\n",
      file.c_str(), info.width, info.height, info.fps, (long long)a.frames_decoded(),
      (long long)a.frames_analyzed(), seconds,
      seconds > 0 ? double(a.frames_decoded()) / seconds : 0.0, (long long)a.shot_cuts(),
      a.shot_cuts() == 1 ? "" : "s", tracks.size(), tracks.size() == 1 ? "" : "s");
  const int main_track = a.main_track();
  for (const Track& t : tracks) {
    const TrackSummary* s = a.summary().track(t.id);
    if (!s) continue;
    std::string gender;
    if (s->gender() >= 0) gender = " " + p.gender_labels()[std::size_t(s->gender())];
    if (s->median_age() >= 0) {
      char age[32];
      std::snprintf(age, sizeof age, " age %.0f", double(s->median_age()));
      gender += age;
    }
    std::printf("  %s %d%s: %lld frames, %.1f-%.1f s, %s\n",
                t.id == main_track ? "main face: track" : "track", t.id, gender.c_str(),
                (long long)s->frames, t.first_time, t.last_time, distribution_text(*s, p).c_str());
  }
  if (tracks.empty()) std::printf("  no faces found\n");
}

// CPU seconds (user + system) of this process so far, all threads.
inline double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec) +
         double(ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_stime.tv_usec);
}

inline int cmd_video(const std::vector<std::string>& argv) {
  ArgParser args("mien video [options] VIDEO...",
                 "Track the faces through each video (a file ffmpeg reads, a camera such as\n"
                 "/dev/video0, or - for standard input) with their smoothed emotion and gender,\n"
                 "and print a summary per clip: the main face's dominant emotion and its share.\n"
                 "With several videos, --json, --csv and --draw name folders.");
  args.option("--json", "OUT", "per-second timeline: one entry per track per second (JSON)")
      .option("--csv", "OUT", "per-frame rows: frame, time, track, box, all probabilities")
      .option("--draw", "OUT", "annotated video: boxes, track ids, smoothed labels (e.g. out.mp4)")
      .flag("--landmarks",
            "with --draw: also draw the detector's landmarks (eyes, nose, mouth, ears)")
      .option("--summary", "OUT", "CSV of file,label for all videos (label: main face's emotion)")
      .option("--fps", "F", "analyse about F frames per second of video")
      .option("--every", "N", "analyse every Nth frame")
      .option("--smoothing", "MODE", "window[:N] (mean of N frames) or ema[:ALPHA]", "window:4")
      .option("--memory", "S",
              "seconds a track survives without a detection (at least 1.5 sampling intervals)", "1")
      .option("--cut-threshold", "D",
              "colour-histogram jump 0..1 that counts as a shot cut and ends all tracks; 0: off",
              "0.17")
      .option("--confirm-frames", "N",
              "show a track once found in N analysed frames of its first --confirm-window "
              "(1: at once); outputs lag by up to that window",
              "3")
      .option("--confirm-window", "N", "analysed frames in which a new track must be confirmed",
              "5")
      .option("--confirm-score", "P", "best detector score a track needs to be confirmed", "0.5")
      .option("--relink", "S",
              "re-link a face lost for up to S seconds that looks the same and is near; 0: off",
              "2")
      .option("--detect-every", "N",
              "run the detector on every Nth analysed frame (and at shot cuts); the frames "
              "between get their faces' boxes interpolated between detections, and are "
              "classified on them. 1: detect on every frame; auto: on video large enough "
              "for tiled detection (HD), every 0.1 s of video (3 at 30 frames/s, 1 at 10 "
              "frames/s or with --fps <= 10), else every frame",
              "auto")
      .option("--attributes-every", "N",
              "run the gender and age models on a track's first frame and then on every Nth "
              "of its analysed frames (the frames between keep the track's smoothed gender "
              "and last age; their own CSV columns stay empty); emotion runs on every frame. "
              "1: every frame; auto: on HD video (tiled detection) every 0.2 s of video (6 at "
              "30 frames/s), else every frame",
              "auto")
      .option("--detect-size", "PX",
              "scale frames whose longer side exceeds PX down to it for detection only "
              "(fewer tiles on HD video); 0: detect on the full frame",
              "0")
      .option("--threads", "N", "threads (default: every core)")
      .flag("--tta", "average each face with its mirror image (test-time augmentation)")
      .flag("--strict", "decoding errors (a damaged stream) are fatal, not warnings")
      .flag("--quiet", "no progress bar")
      .flag("--timing",
            "print the CPU time of each stage (decode, detect, classify, track, output, "
            "encode; ffmpeg's processes included) and the frames/s, per video")
      .option("--ffmpeg", "PATH", "the ffmpeg program", "ffmpeg");
  add_model_options(args);
  add_detect_options(args);
  if (!args.parse(argv)) return 0;
  const std::vector<std::string>& files = args.positional();
  if (files.empty()) throw UsageError("mien video needs at least one video");
  if (args.has("--fps") && args.has("--every"))
    throw UsageError("--fps and --every cannot be combined");

  VideoOptions vo;
  vo.pipeline = pipeline_options(args);
  vo.pipeline.flip_tta = args.has("--tta");
  vo.threads = args.has("--threads") ? args.get_int("--threads", 1, 256) : hardware_threads();
  vo.pipeline.detect.threads = vo.threads;
  if (args.has("--fps"))
    vo.sampler = FrameSampler::per_second(args.get_double("--fps", 0.01, 1000));
  if (args.has("--every")) vo.sampler = FrameSampler::every(args.get_int("--every", 1, 1000000));
  try {
    vo.smoothing = parse_smoothing(args.get("--smoothing"));
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  vo.tracker.memory_seconds = args.get_double("--memory", 0, 3600);
  vo.cut_threshold = float(args.get_double("--cut-threshold", 0, 1));
  vo.confirm.frames = args.get_int("--confirm-frames", 1, 1000);
  vo.confirm.window = args.get_int("--confirm-window", 1, 1000);
  if (!args.has("--confirm-window"))
    vo.confirm.window = std::max(vo.confirm.window, vo.confirm.frames);
  if (vo.confirm.window < vo.confirm.frames)
    throw UsageError("--confirm-window must be at least --confirm-frames");
  vo.confirm.min_score = float(args.get_double("--confirm-score", 0, 1));
  vo.tracker.relink_seconds = args.get_double("--relink", 0, 3600);
  vo.detect_every =
      args.get("--detect-every") == "auto" ? 0 : args.get_int("--detect-every", 1, 1000);
  vo.detect_size = args.get_int("--detect-size", 0, 100000);
  vo.attributes_every =
      args.get("--attributes-every") == "auto" ? 0 : args.get_int("--attributes-every", 1, 1000);
  const std::string ffmpeg = args.get("--ffmpeg");
  const bool many = files.size() > 1;
  // Output paths per video, unique even when two inputs share a name (d1/clip.mp4,
  // d2/clip.mp4), each created now: an unwritable one is reported before any decoding.
  std::map<std::string, std::vector<std::string>> outputs;
  for (const char* opt : {"--json", "--csv", "--draw"}) {
    if (!args.has(opt)) continue;
    const std::string out = args.get(opt);
    if (out.empty()) throw UsageError(std::string(opt) + " needs a file name");
    const std::string ext = opt == std::string("--json")  ? ".json"
                            : opt == std::string("--csv") ? ".csv"
                                                          : ".mp4";
    std::vector<std::string>& paths = outputs[opt];
    if (!many) {
      paths.assign(1, out);
    } else {
      std::error_code ec;
      std::filesystem::create_directories(out, ec);
      if (!std::filesystem::is_directory(out))
        throw Error(out + ": cannot create the output folder for " + opt);
      for (const std::string& name : unique_output_names(
               files, [&](const std::string&stem, const std::string&) { return stem + ext; }))
        paths.push_back((std::filesystem::path(out) / name).string());
    }
    for (const std::string& path : paths) check_writable(path, std::string(opt) + " output");
  }
  auto output = [&](const char* opt, std::size_t i) { return outputs.at(opt)[many ? i : 0]; };
  std::unique_ptr<OutputFile> summary;
  if (args.has("--summary")) {
    summary = std::make_unique<OutputFile>(args.get("--summary"));
    summary->write("file,label,decoding_errors\n");
    summary->flush();
  }
  const Pipeline pipeline = make_pipeline(args);
  const bool progress = !args.has("--quiet");
  AnnotateOptions draw_opt;
  draw_opt.landmarks = args.has("--landmarks");

  // Ctrl-C / SIGTERM: stop decoding, finish the frames in flight, write the outputs.
  std::mutex reader_mutex;
  VideoReader* current = nullptr;
  InterruptWatch watch([&] {
    std::lock_guard<std::mutex> lock(reader_mutex);
    if (current) current->interrupt();
  });

  int failures = 0;
  for (std::size_t fi = 0; fi < files.size() && !InterruptWatch::signal(); ++fi) {
    const std::string& file = files[fi];
    std::unique_ptr<VideoReader> reader;
    try {
      VideoReaderOptions ro;
      ro.ffmpeg = ffmpeg;
      ro.strict = args.has("--strict");
      reader = std::make_unique<VideoReader>(file, ro);
    } catch (const Error& e) {
      std::fprintf(stderr, "mien: error: %s\n", e.what());
      ++failures;
      // Nothing was read: remove the empty files check_writable left for this video.
      for (const auto& o : outputs) std::remove(output(o.first.c_str(), fi).c_str());
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(reader_mutex);
      current = reader.get();
      if (InterruptWatch::signal()) reader->interrupt();  // came while it was starting
    }
    const VideoInfo& info = reader->info();
    VideoAnalyzer analyzer(pipeline, vo);
    std::unique_ptr<OutputFile> csv;
    std::unique_ptr<VideoWriter> draw;
    std::string error;
    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = process_cpu_seconds();
    ProgressBar bar(progress, std::filesystem::path(file).filename().string(), "frames");
    try {
      if (args.has("--csv")) {
        csv = std::make_unique<OutputFile>(output("--csv", fi));
        csv->write(frames_csv_header(pipeline));
      }
      if (args.has("--draw"))
        draw = std::make_unique<VideoWriter>(output("--draw", fi), info.width, info.height,
                                             info.fps > 0 ? info.fps : 25.0, ffmpeg);
      analyzer.run(*reader, [&](VideoFrame& frame, const FrameResult& r) {
        if (csv && r.analyzed) {
          csv->write(frames_csv_rows(r, pipeline));
          if (r.index % 64 == 0) csv->flush();
        }
        if (draw) {
          std::vector<FaceResult> shown_faces;
          std::vector<std::string> titles;
          for (const TrackedFace& t : r.faces) {
            FaceResult shown = t.raw;  // the frame's box with the track's smoothed labels
            shown.age = t.age;
            shown.emotion = t.label;
            shown.emotion_scores = t.emotion;
            if (t.gender_label >= 0) {
              shown.gender = t.gender_label;
              shown.gender_score = t.gender[std::size_t(t.gender_label)];
            }
            shown_faces.push_back(std::move(shown));
            titles.push_back("#" + std::to_string(t.track));
          }
          annotate(frame.image, shown_faces, pipeline, titles, draw_opt);
          draw->write(frame.image);
        }
        bar.update(r.index + 1, info.expected_frames());
      });
    } catch (const Error& e) {
      error = e.what();
    }
    {
      std::lock_guard<std::mutex> lock(reader_mutex);
      current = nullptr;
    }
    bar.finish();
    const int decode_errors = reader->decode_errors();
    // Whatever happened, write out what was processed.
    try {
      if (draw) draw->finish();
    } catch (const Error& e) {
      if (error.empty()) error = e.what();
    }
    try {
      if (csv) csv->close();
      if (args.has("--json")) {
        OutputFile json(output("--json", fi));
        json.write(timeline_json(analyzer.timeline(), pipeline, decode_errors));
        json.close();
      }
    } catch (const Error& e) {
      if (error.empty()) error = e.what();
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    print_clip_summary(file, info, analyzer, secs, pipeline);
    std::fflush(stdout);
    if (args.has("--timing")) {
      const double mien_cpu = process_cpu_seconds() - cpu0;
      reader->close();  // reaps ffmpeg if the stream did not end (an error)
      const double decode_cpu = reader->ffmpeg_cpu_seconds();
      const double encode_cpu = draw ? draw->ffmpeg_cpu_seconds() : 0.0;
      StageTimer& timer = analyzer.timer();
      timer.add_cpu(Stage::Decode, decode_cpu, 0);
      if (draw) timer.add_cpu(Stage::Encode, encode_cpu, 0);
      std::fprintf(stderr,
                   "timing of %s (%d thread%s, detector on %lld of %lld analysed frames, "
                   "gender/age every %d of a track's frames):\n%s",
                   file.c_str(), vo.threads, vo.threads == 1 ? "" : "s",
                   (long long)analyzer.frames_detected(), (long long)analyzer.frames_analyzed(),
                   analyzer.attributes_every(),
                   format_timing(timer.totals(), analyzer.frames_decoded(), secs, mien_cpu,
                                 decode_cpu + encode_cpu, vo.threads)
                       .c_str());
    }
    if (decode_errors > 0 && !args.has("--strict"))
      std::fprintf(stderr,
                   "mien: warning: %s: %d decoding error%s (damaged stream: the results may be "
                   "wrong; --strict makes this an error)\n",
                   file.c_str(), decode_errors, decode_errors == 1 ? "" : "s");
    if (summary) {
      const TrackSummary* main = analyzer.summary().track(analyzer.main_track());
      const int label = main ? main->dominant() : -1;
      if (label < 0)
        std::fprintf(stderr, "mien: warning: %s: no face, empty label\n", file.c_str());
      const std::string name = file == "-" ? "-" : std::filesystem::path(file).filename().string();
      summary->write(csv_field(name) + "," +
                     (label >= 0 ? csv_field(pipeline.emotion_labels()[std::size_t(label)]) : "") +
                     "," + std::to_string(decode_errors) + "\n");
      summary->flush();
    }
    if (reader->interrupted())
      std::fprintf(stderr, "mien: interrupted: %s: the outputs hold the %lld frames decoded\n",
                   file.c_str(), (long long)analyzer.frames_decoded());
    if (!error.empty() && InterruptWatch::signal()) {
      // The signal may reach ffmpeg too (same terminal) before mien stops it: its failure
      // is part of the interruption, not a second problem.
      std::fprintf(stderr, "mien: note: after the interruption: %s\n", error.c_str());
    } else if (!error.empty()) {
      std::fprintf(stderr, "mien: error: %s\n", error.c_str());
      if (analyzer.frames_decoded() > 0)
        std::fprintf(stderr, "mien: the outputs hold the %lld frames processed before the error\n",
                     (long long)analyzer.frames_decoded());
      ++failures;
    }
  }
  if (summary) summary->close();
  if (InterruptWatch::signal()) return InterruptWatch::exit_code();  // 130 / 143
  return failures ? 1 : 0;
}

}  // namespace mien::cli
