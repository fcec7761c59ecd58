// The face pipeline over a video: decode, analyse, track, smooth, and hand each frame with
// its tracked faces to the caller, in order.
//
// ffmpeg decodes in its own process; one reader thread pulls frames from its pipe and
// decides which to analyse (a dedicated thread because it blocks on the pipe: on the
// compute pool it would hold a pool thread idle, and a pool task may not wait for
// another) and, in frame order, marks shot cuts and the key frames the detector runs on
// (detection_schedule.hpp; every analysed frame by default on small video). The calling
// thread takes the queued frames in batches of up to 2 * `threads` + detect_every - 1:
// it detects faces on the batch's key frames in parallel on mien's thread pool (run_tasks:
// frames in parallel beat splitting the small layers of one frame across cores); then, in
// frame order, tracks the key frames, gives the frames between their interpolated boxes
// and feeds confirmation; classifies all those frames' faces in parallel; and in frame
// order smooths them and calls `on_frame` (drawing, encoding, writing) while the reader
// decodes ahead. Frames after the last key frame wait for the next batch. At most
// 2 * (batch size) + 2 frames are in flight, so memory stays bounded on long videos.
// Every stage's CPU time is summed in timer() (`mien video --timing`).
//
// Only confirmed tracks (track_confirmation.hpp) reach `on_frame`, the timeline and the
// summary. Whether a new track is a person is known a few analysed frames after it
// appears, so frames are held back until every face in them is decided: `on_frame` runs
// up to `confirm.window` analysed frames late (at full rate 5 frames, with --fps 2 about
// 2.5 s of video), and a confirmed face is delivered from its very first frame. If the
// held frames would exceed `max_delay_bytes`, the oldest is delivered early without its
// undecided faces (their first frames are then missing from the outputs).
//
// If the stream breaks, every frame decoded before is still delivered to `on_frame`, and
// then the error is thrown; the timeline and summary cover those frames.
//
//   mien::VideoAnalyzer analyzer(pipeline);
//   mien::VideoReader video("clip.mp4");
//   analyzer.run(video, [](const mien::VideoFrame& f, const mien::FrameResult& r) {...});
//   for (const auto& e : analyzer.timeline()) ...
#pragma once

#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "mien/video/appearance.hpp"
#include "mien/video/detection_schedule.hpp"
#include "mien/video/frames.hpp"
#include "mien/video/shot_cut.hpp"
#include "mien/video/smoothing.hpp"
#include "mien/video/stage_timer.hpp"
#include "mien/video/timeline.hpp"
#include "mien/video/track_confirmation.hpp"
#include "mien/video/tracker.hpp"
#include "mien/vision/pipeline.hpp"

namespace mien {

struct VideoOptions {
  PipelineOptions pipeline;  // detection/classification settings for each frame
  int threads = 1;           // frames analysed at the same time
  FrameSampler sampler;      // which frames to analyse (default: all)
  TrackerOptions tracker;
  SmoothingOptions smoothing;
  float cut_threshold = 0.17f;  // shot-cut histogram distance that ends all tracks; 0: off
  ConfirmOptions confirm;       // when a track is a person
  std::size_t max_delay_bytes = std::size_t(256) << 20;  // frames held for confirmation
  // The detector runs on every `detect_every`-th analysed frame, the first one and every
  // shot cut; the analysed frames between get their tracks' boxes interpolated between
  // those detections, and are classified on them (detection_schedule.hpp). 1: detect on
  // every analysed frame. 0 (auto): on frames the detector tiles (HD video), the most
  // analysed frames that span at most `detect_seconds` of video (at 30 frames/s: 3; with
  // --fps 10 or sparser: 1); on smaller frames 1, since one detector pass costs about as
  // much as classifying two faces and skipping it loses fast faces (on the Hamilton clip
  // every 3rd frame splits a fast close-up into 3 tracks).
  int detect_every = 0;
  double detect_seconds = 0.1;
  // Frames whose longer side exceeds this are scaled down to it for detection only (the
  // classifiers read the full frame): fewer tiles on HD video. 0: detect on the full frame.
  int detect_size = 0;
  // Gender and age belong to the person, not the frame: the gender and age models run on a
  // track's first analysed frame and then on every `attributes_every`-th of its analysed
  // frames; on the others the track keeps its smoothed gender and its last age, and the
  // frame's own (FaceResult) gender and age stay unmeasured (-1). Emotion runs on every
  // analysed frame. 1: every frame. 0 (auto): on video the detector tiles (HD), the most
  // analysed frames that span `attributes_seconds` (0.2 s: 6 at 30 frames/s), else 1. On
  // HD video with many faces the two models were over half of the classification time
  // (age: a 97 MMAC TinyXception per face).
  int attributes_every = 0;
  double attributes_seconds = 0.2;
};

struct TrackedFace {
  int track = 0;   // confirmed track id: 1, 2, 3... (the tracker's own id inside the analyzer)
  FaceResult raw;  // this frame's own result (box, probabilities, gender)
  std::vector<float> emotion;  // smoothed emotion probabilities (pipeline label order)
  int label = -1;              // argmax of `emotion`
  std::vector<float> gender;   // smoothed gender probabilities (empty without gender)
  int gender_label = -1;
  // The track's age: this frame's own estimate, or the last one measured on the track
  // (VideoOptions::attributes_every); -1 without an age model.
  float age = -1.f;
};

struct FrameResult {
  int64_t index = 0;
  double time = 0;
  // False for frames the sampler skipped: `faces` then repeats the last analysed frame's,
  // so that drawn videos keep their boxes between samples.
  bool analyzed = false;
  // True when the detector ran on this frame; the other analysed frames have boxes
  // interpolated between the surrounding detections (VideoOptions::detect_every).
  bool detected = false;
  std::vector<TrackedFace> faces;
};

class VideoAnalyzer {
 public:
  using FrameCallback = std::function<void(VideoFrame&, const FrameResult&)>;

  explicit VideoAnalyzer(const Pipeline& pipeline, VideoOptions opt = {})
      : pipeline_(pipeline),
        opt_(opt),
        tracker_(opt.tracker),
        emotion_smooth_(opt.smoothing),
        gender_smooth_(opt.smoothing),
        confirmer_(opt.confirm),
        cuts_(opt.cut_threshold) {
    MIEN_CHECK(opt_.threads >= 1, "threads must be at least 1");
    MIEN_CHECK(opt_.detect_every >= 0, "detect_every must not be negative");
    MIEN_CHECK(opt_.detect_seconds >= 0, "detect_seconds must not be negative");
    MIEN_CHECK(opt_.detect_size >= 0, "detect_size must not be negative");
    MIEN_CHECK(opt_.attributes_every >= 0, "attributes_every must not be negative");
    MIEN_CHECK(opt_.attributes_seconds >= 0, "attributes_seconds must not be negative");
  }

  // Processes the whole stream. `on_frame` (may be empty) runs on the calling thread.
  void run(VideoReader& video, const FrameCallback& on_frame = {}) {
    const int workers = opt_.threads;
    // A batch of several frames spreads the frames across the pool (each frame's layers
    // then run inline); a batch of one frame uses the threads inside its layers.
    PipelineOptions frame_opt = opt_.pipeline;
    if (workers > 1) frame_opt.detect.threads = workers;
    const double interval = opt_.sampler.interval(video.info().fps);
    detect_every_ = detect_every(opt_, interval);
    const bool hd = tiled(video.info().width, video.info().height);
    if (opt_.detect_every == 0 && !hd) detect_every_ = 1;
    attributes_every_ = attributes_every(opt_, interval);
    if (opt_.attributes_every == 0 && !hd) attributes_every_ = 1;
    // Every frame in flight is a buffer (6 MB at 1080p), and first touching a new one costs
    // more than reading a frame into it (page faults: 0.8 s over 26 buffers on the 1080p
    // bench clip), so a batch grows by only the frames between two key frames.
    const std::size_t batch_max = std::size_t(2 * workers + detect_every_ - 1);
    const std::size_t capacity = 2 * batch_max + 2;
    tracker_.ensure_memory(1.5 * detect_every_ * interval);

    Queue q;
    FrameSampler sampler = opt_.sampler;
    DetectionSchedule schedule(detect_every_);
    std::thread reader([&] {
      try {
        for (;;) {
          Item item;
          {
            std::unique_lock<std::mutex> lock(q.mutex);
            q.cv.wait(lock, [&] { return q.in_flight < capacity + q.extra || q.stop; });
            if (q.stop) break;
            ++q.in_flight;
            if (!q.spare.empty()) {
              item.frame.image = std::move(q.spare.back());
              q.spare.pop_back();
            }
          }
          bool got = false;
          {
            StageTimer::Scope t(timer_, Stage::Decode);
            got = video.read(item.frame);
          }
          if (!got) {
            std::lock_guard<std::mutex> lock(q.mutex);
            --q.in_flight;
            break;
          }
          item.analyze = sampler.take(item.frame);
          if (item.analyze) {
            // Here, in frame order, because the schedule needs to know the cuts.
            StageTimer::Scope t(timer_, Stage::Track);
            item.cut = cuts_.is_cut(item.frame.image);
            item.key = schedule.next(item.cut);
          }
          std::lock_guard<std::mutex> lock(q.mutex);
          q.todo.push_back(std::move(item));
          q.cv.notify_all();
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(q.mutex);
        --q.in_flight;
        q.error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(q.mutex);
      q.input_done = true;
      q.cv.notify_all();
    });

    std::exception_ptr failure;
    std::deque<Item> pending;  // frames in order, not yet tracked (after the last key frame)
    for (;;) {
      bool end = false;
      {
        std::unique_lock<std::mutex> lock(q.mutex);
        // Every frame that could be freed was, in the last round: the frames still pending
        // wait for the next key frame. With sparse sampling (--every 12, --fps 2 on 30
        // frames/s video, --detect-every 3 --every 5) more than `capacity` frames lie
        // between two key frames, and a reader stopped at capacity would wait for frames
        // that wait for it. So it may then read one frame more, as often as needed: memory
        // grows only by the frames that really lie between two key frames.
        // The allowance ends only when nothing is pending: taken back earlier, it could
        // stop a reader that the frames still pending wait for.
        if (pending.empty()) {
          q.extra = 0;
        } else if (q.todo.empty() && !q.input_done && q.in_flight >= capacity + q.extra) {
          q.extra = q.in_flight + 1 - capacity;
          q.cv.notify_all();
        }
        q.cv.wait(lock, [&] { return !q.todo.empty() || q.input_done; });
        for (std::size_t n = 0; !q.todo.empty() && n < batch_max; ++n) {
          pending.push_back(std::move(q.todo.front()));
          q.todo.pop_front();
        }
        end = q.todo.empty() && q.input_done;
      }
      if (end) {
        // The frames after the last key frame: the last analysed one becomes a key frame.
        for (auto it = pending.rbegin(); it != pending.rend(); ++it)
          if (it->analyze) {
            it->key = true;
            break;
          }
      }
      // Detection on the key frames, in parallel. Analysis tasks never wait for each
      // other or for delivery, so a batch completes however many pool threads join it
      // (the reader keeps decoding meanwhile).
      std::vector<Item*> work;
      for (Item& item : pending)
        if (item.analyze && item.key && !item.detected && !item.error) work.push_back(&item);
      run_tasks(int64_t(work.size()), workers, [&](int64_t t) {
        Item& item = *work[std::size_t(t)];
        try {
          item.boxes = detect(item.frame.image, frame_opt.detect);
          item.detected = true;
        } catch (...) {
          item.error = std::current_exception();
        }
      });
      // In frame order: tracking and confirmation of every frame up to the last key frame.
      std::vector<Item> ready;
      {
        StageTimer::Scope t(timer_, Stage::Track);
        ready = track_ready(pending, end);
      }
      // Classification of those frames' faces, in parallel. Which faces get gender and
      // age is decided here, in frame order, so it does not depend on the threads.
      work.clear();
      for (Item& item : ready) {
        if (!item.analyze || item.faces.empty()) continue;
        work.push_back(&item);
        for (const KeyFace& f : item.faces)
          item.attributes.push_back(attributes_due_[f.track]++ % attributes_every_ == 0);
      }
      run_tasks(int64_t(work.size()), workers, [&](int64_t t) {
        Item& item = *work[std::size_t(t)];
        try {
          StageTimer::Scope st(timer_, Stage::Classify);
          item.results = classify(item, frame_opt);
        } catch (...) {
          item.error = std::current_exception();
        }
      });
      for (Item& item : ready) {
        std::vector<Image> freed;
        if (!failure) {
          try {
            if (item.error) std::rethrow_exception(item.error);
            deliver(std::move(item), on_frame, freed);
          } catch (...) {
            failure = std::current_exception();
          }
        }
        std::lock_guard<std::mutex> lock(q.mutex);
        --q.in_flight;
        for (Image& img : freed)
          if (q.spare.size() < capacity) q.spare.push_back(std::move(img));
        if (failure) q.stop = true;
        q.cv.notify_all();
      }
      if (failure || end) break;
    }
    // The held frames: every track is decided now. After a failed callback (an encoder
    // that died) there is nobody to hand them to.
    if (!callback_failed_) {
      try {
        for (int id : confirmer_.finish()) tracker_.discard(id);
        std::vector<Image> freed;
        release(on_frame, freed);
      } catch (...) {
        if (!failure) failure = std::current_exception();
      }
    }
    // On failure the reader sees `stop` after at most one more frame (ffmpeg keeps the
    // pipe fed); the VideoReader's owner ends ffmpeg.
    reader.join();
    if (failure) std::rethrow_exception(failure);
    if (q.error) std::rethrow_exception(q.error);
  }

  // The tracker's raw tracks, rejected ones included, with the tracker's ids.
  const FaceTracker& tracker() const { return tracker_; }
  // Confirmed tracks with their user-facing ids (1, 2, 3...), in id order.
  std::vector<Track> tracks() const {
    std::vector<Track> out;
    for (const Track& t : tracker_.tracks()) {
      const int id = confirmer_.public_id(t.id);
      if (id == 0) continue;
      out.push_back(t);
      out.back().id = id;
    }
    std::sort(out.begin(), out.end(), [](const Track& a, const Track& b) { return a.id < b.id; });
    return out;
  }
  // The clip's main face among the confirmed tracks (largest size x presence), 0 if none.
  int main_track() const {
    int best = 0;
    double best_score = 0;
    for (const Track& t : tracks())
      if (t.area_sum > best_score) {
        best_score = t.area_sum;
        best = t.id;
      }
    return best;
  }
  std::vector<TimelineEntry> timeline() const { return timeline_.entries(); }
  const ClipSummaryBuilder& summary() const { return summary_; }
  int64_t frames_decoded() const { return frames_decoded_; }
  int64_t frames_analyzed() const { return frames_analyzed_; }
  // Analysed frames the detector ran on (the others had interpolated boxes).
  int64_t frames_detected() const { return frames_detected_; }
  // The detection schedule of the last run (VideoOptions::detect_every, auto resolved).
  int detect_every() const { return detect_every_; }
  // The gender/age schedule of the last run (VideoOptions::attributes_every, auto resolved).
  int attributes_every() const { return attributes_every_; }

  // VideoOptions::detect_every with `auto` (0) resolved for analysed frames `interval`
  // seconds apart (0: unknown, then 1).
  static int detect_every(const VideoOptions& opt, double interval) {
    if (opt.detect_every > 0) return opt.detect_every;
    if (!(interval > 0)) return 1;
    // + 0.05: 29.97 frames/s counts as 30 (3 frames per 0.1 s, not 2).
    return std::max(1, std::min(1000, int(std::floor(opt.detect_seconds / interval + 0.05))));
  }
  // VideoOptions::attributes_every with `auto` (0) resolved likewise.
  static int attributes_every(const VideoOptions& opt, double interval) {
    if (opt.attributes_every > 0) return opt.attributes_every;
    if (!(interval > 0)) return 1;
    return std::max(1, std::min(1000, int(std::floor(opt.attributes_seconds / interval + 0.05))));
  }
  int64_t shot_cuts() const { return shot_cuts_; }
  const Pipeline& pipeline() const { return pipeline_; }
  // CPU time per stage of the runs so far (mien's side; the caller adds ffmpeg's).
  StageTimer& timer() { return timer_; }

 private:
  struct Item {
    VideoFrame frame;
    bool analyze = false;  // the sampler took it
    bool cut = false;      // it starts a new shot (analysed frames only)
    bool key = false;      // the detector runs on it
    bool detected = false;
    std::vector<Detection> boxes;     // the detector's, on key frames
    std::vector<KeyFace> faces;       // tracked faces (key frames) or interpolated ones
    std::vector<FaceResult> results;  // their classification, same order
    std::vector<char> attributes;     // per face: gender and age run on this frame
    std::exception_ptr error;
  };
  struct Queue {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<Item> todo;
    std::vector<Image> spare;  // frame buffers to reuse
    std::size_t in_flight = 0;
    std::size_t extra = 0;  // frames the reader may read beyond capacity (see run())
    bool input_done = false, stop = false;
    std::exception_ptr error;
  };

  struct Held {
    VideoFrame frame;
    FrameResult result;  // tracker ids
  };

  // The item's faces classified: emotion on all, gender and age on those whose track is
  // due for them (Item::attributes); two pipeline calls when the frame has both kinds.
  std::vector<FaceResult> classify(const Item& item, const PipelineOptions& opt) const {
    std::vector<Detection> with, without;
    for (std::size_t i = 0; i < item.faces.size(); ++i)
      (item.attributes[i] ? with : without).push_back(item.faces[i].box);
    if (without.empty()) return pipeline_.classify(item.frame.image, std::move(with), opt);
    PipelineOptions emotion_only = opt;
    emotion_only.gender = false;
    emotion_only.age = false;
    std::vector<FaceResult> b =
        pipeline_.classify(item.frame.image, std::move(without), emotion_only);
    if (with.empty()) return b;
    std::vector<FaceResult> a = pipeline_.classify(item.frame.image, std::move(with), opt);
    std::vector<FaceResult> out;
    std::size_t ia = 0, ib = 0;
    for (std::size_t i = 0; i < item.faces.size(); ++i)
      out.push_back(std::move(item.attributes[i] ? a[ia++] : b[ib++]));
    return out;
  }

  // Whether the detector tiles frames of this size (after detect_size).
  bool tiled(int width, int height) const {
    const int side = std::max(width, height);
    if (opt_.detect_size > 0 && side > opt_.detect_size) {
      const double s = double(opt_.detect_size) / side;
      width = std::max(1, int(std::lround(width * s)));
      height = std::max(1, int(std::lround(height * s)));
    }
    return pipeline_.detector().use_tiles(width, height, opt_.pipeline.detect.tiling);
  }

  // The detector on a frame, scaled down first when it is larger than detect_size.
  std::vector<Detection> detect(const Image& img, const DetectOptions& opt) {
    const int side = std::max(img.width, img.height);
    if (opt_.detect_size <= 0 || side <= opt_.detect_size) {
      StageTimer::Scope t(timer_, Stage::Detect);
      return pipeline_.detector().detect(img, opt);
    }
    const double s = double(opt_.detect_size) / side;
    Image small;
    {
      StageTimer::Scope t(timer_, Stage::Resize);
      small = resize_bilinear(img, std::max(1, int(std::lround(img.width * s))),
                              std::max(1, int(std::lround(img.height * s))));
    }
    StageTimer::Scope t(timer_, Stage::Detect);
    DetectOptions o = opt;
    if (o.min_face > 0) o.min_face = float(o.min_face * s);
    std::vector<Detection> boxes = pipeline_.detector().detect(small, o);
    const float fx = float(img.width) / float(small.width);
    const float fy = float(img.height) / float(small.height);
    for (Detection& d : boxes) {
      d.x *= fx;
      d.y *= fy;
      d.w *= fx;
      d.h *= fy;
      for (Point& p : d.keypoints) {
        p.x *= fx;
        p.y *= fy;
      }
    }
    return boxes;
  }

  // In frame order, on the calling thread: moves from `pending` the frames up to its last
  // key frame (all of them at the `end` of the stream), with their faces tracked (key
  // frames) or interpolated (frames between) and confirmation fed. After a frame whose
  // detection failed, the frames before it keep the last key frame's faces, and it and
  // every later frame follow undecided: delivery stops at its error.
  std::vector<Item> track_ready(std::deque<Item>& pending, bool end) {
    std::size_t n = 0;
    bool failed = false;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (pending[i].error) {
        n = i;
        failed = true;
        break;
      }
      if (pending[i].analyze && pending[i].key) n = i + 1;
      if (end) n = i + 1;
    }
    std::vector<std::size_t> between;  // analysed frames since the last key frame
    auto resolve = [&](const std::vector<KeyFace>* next, double next_time, bool cut) {
      for (std::size_t b : between) {
        Item& it = pending[b];
        it.faces = next ? interpolate_faces(last_key_, last_key_time_, *next, next_time,
                                            it.frame.time, cut)
                        : last_key_;
        observe(it.faces, it.frame.time);
      }
      between.clear();
    };
    for (std::size_t i = 0; i < n; ++i) {
      Item& it = pending[i];
      if (!it.analyze) continue;
      if (!it.key) {
        between.push_back(i);
        continue;
      }
      if (it.cut) {
        resolve(nullptr, 0, true);
        for (int id : confirmer_.end_shot()) tracker_.discard(id);
        tracker_.end_all();
        ++shot_cuts_;
      }
      std::vector<std::vector<float>> looks;
      for (const Detection& d : it.boxes) looks.push_back(face_appearance(it.frame.image, d));
      const std::vector<int> ids = tracker_.update(it.boxes, it.frame.time, looks);
      std::vector<KeyFace> faces;
      for (std::size_t k = 0; k < it.boxes.size(); ++k)
        if (ids[k] != 0) faces.push_back({ids[k], std::move(it.boxes[k])});  // 0: a duplicate
      resolve(&faces, it.frame.time, false);
      it.faces = faces;
      observe(it.faces, it.frame.time);
      last_key_ = std::move(faces);
      last_key_time_ = it.frame.time;
    }
    resolve(nullptr, 0, true);  // only after a failure: frames before it keep the last faces
    if (failed) n = pending.size();
    std::vector<Item> ready;
    for (std::size_t i = 0; i < n; ++i) ready.push_back(std::move(pending[i]));
    pending.erase(pending.begin(), pending.begin() + std::ptrdiff_t(n));
    return ready;
  }

  // Feeds confirmation with one analysed frame's tracked faces (those found, or
  // interpolated between two key frames that found them), then drops those of tracks
  // rejected by now: they never reach the outputs, so they need no classification.
  void observe(std::vector<KeyFace>& faces, double time) {
    std::vector<int> ids;
    std::vector<float> scores;
    for (const KeyFace& f : faces) {
      if (f.held) continue;  // not seen on this frame's side of the gap
      ids.push_back(f.track);
      scores.push_back(f.box.score);
    }
    for (int id : confirmer_.observe(ids, scores, time)) tracker_.discard(id);
    faces.erase(std::remove_if(faces.begin(), faces.end(),
                               [&](const KeyFace& f) {
                                 return confirmer_.state(f.track) ==
                                        TrackConfirmer::State::Rejected;
                               }),
                faces.end());
  }

  // In frame order, on the calling thread: smooths the frame's classified faces, then
  // hands on the held frames whose faces are all decided. Frame buffers done with go to
  // `freed`.
  void deliver(Item&& item, const FrameCallback& on_frame, std::vector<Image>& freed) {
    {
      StageTimer::Scope t(timer_, Stage::Track);
      smooth(std::move(item));
    }
    release(on_frame, freed);
  }

  void smooth(Item&& item) {
    ++frames_decoded_;
    FrameResult r;
    r.index = item.frame.index;
    r.time = item.frame.time;
    r.analyzed = item.analyze;
    r.detected = item.detected;
    if (item.analyze) {
      ++frames_analyzed_;
      if (item.detected) ++frames_detected_;
      const std::size_t n_gender = pipeline_.gender_labels().size();
      for (std::size_t i = 0; i < item.faces.size(); ++i) {
        TrackedFace t;
        t.track = item.faces[i].track;
        t.raw = std::move(item.results[i]);
        t.emotion = emotion_smooth_.update(t.track, t.raw.emotion_scores);
        t.label = argmax(t.emotion);
        if (t.raw.gender >= 0 && n_gender > 0) {
          // The pipeline reports the winning gender's probability; for the usual two
          // labels that is the whole distribution.
          std::vector<float> g(
              n_gender, n_gender > 1 ? (1.f - t.raw.gender_score) / float(n_gender - 1) : 0.f);
          g[std::size_t(t.raw.gender)] = t.raw.gender_score;
          t.gender = gender_smooth_.update(t.track, g);
          t.gender_label = argmax(t.gender);
        } else if (const std::vector<float>* g = gender_smooth_.current(t.track)) {
          t.gender = *g;  // not measured on this frame: the track's so far
          t.gender_label = argmax(t.gender);
        }
        if (t.raw.age >= 0) last_age_[t.track] = t.raw.age;
        auto age = last_age_.find(t.track);
        if (age != last_age_.end()) t.age = age->second;
        r.faces.push_back(std::move(t));
      }
      last_faces_ = r.faces;
    } else {
      r.faces = last_faces_;
    }
    held_bytes_ += item.frame.image.rgb.size();
    held_.push_back({std::move(item.frame), std::move(r)});
  }

  bool decided(const FrameResult& r) const {
    for (const TrackedFace& f : r.faces)
      if (!confirmer_.decided(f.track)) return false;
    return true;
  }

  // Delivers held frames from the oldest while their faces are decided (or the held frames
  // outgrow max_delay_bytes): confirmed faces renumbered, the others dropped.
  void release(const FrameCallback& on_frame, std::vector<Image>& freed) {
    const std::size_t n_gender = pipeline_.gender_labels().size();
    while (!held_.empty()) {
      Held& h = held_.front();
      const bool over_budget = held_.size() > 1 && held_bytes_ > opt_.max_delay_bytes;
      if (!over_budget && !decided(h.result)) break;
      FrameResult r;
      r.index = h.result.index;
      r.time = h.result.time;
      r.analyzed = h.result.analyzed;
      for (TrackedFace& f : h.result.faces) {
        const int id = confirmer_.public_id(f.track);
        if (id == 0) continue;
        f.track = id;
        if (r.analyzed) {
          timeline_.add(f.track, r.time, f.raw.face, f.emotion, f.gender, f.raw.age);
          summary_.add(f.track, f.emotion, f.gender_label, n_gender, f.raw.age);
        }
        r.faces.push_back(std::move(f));
      }
      held_bytes_ -= h.frame.image.rgb.size();
      try {
        StageTimer::Scope t(timer_, Stage::Output);
        if (on_frame) on_frame(h.frame, r);
      } catch (...) {
        callback_failed_ = true;
        throw;
      }
      freed.push_back(std::move(h.frame.image));
      held_.pop_front();
    }
  }

  const Pipeline& pipeline_;
  VideoOptions opt_;
  FaceTracker tracker_;
  TrackSmoothers emotion_smooth_, gender_smooth_;  // by tracker id
  TrackConfirmer confirmer_;
  std::deque<Held> held_;
  std::size_t held_bytes_ = 0;
  bool callback_failed_ = false;
  TimelineBuilder timeline_;
  ClipSummaryBuilder summary_;
  ShotCutDetector cuts_;
  int64_t shot_cuts_ = 0;
  std::vector<TrackedFace> last_faces_;
  std::vector<KeyFace> last_key_;  // the last key frame's tracked faces
  double last_key_time_ = 0;
  int64_t frames_decoded_ = 0, frames_analyzed_ = 0, frames_detected_ = 0;
  int detect_every_ = 1;
  int attributes_every_ = 1;
  std::map<int, int64_t> attributes_due_;  // by tracker id: analysed frames classified
  std::map<int, float> last_age_;          // by tracker id: the last age measured
  StageTimer timer_;
};

}  // namespace mien
