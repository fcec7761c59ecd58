// Emotion over time: a per-second timeline with one entry per track per second (the
// TV-series system's shape), and a clip summary (the main face's dominant emotion and its
// distribution over the clip, the challenge baseline's per-clip label).
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mien/vision/detection.hpp"

namespace mien {

// {"type":"emotion","class":"happy","seconds":15.0,"object":{"track":1,"box":[x,y,w,h],
//  "probability":0.93,"detector_score":0.88,"gender":"woman","age":31.2}}
struct TimelineEntry {
  double seconds = 0;  // start of the second
  int track = 0;
  int emotion = -1;          // label index
  float probability = 0;     // mean smoothed probability of that label over the second
  float detector_score = 0;  // mean face detector score over the second
  Detection box;             // the face in the first analysed frame of the second
  int gender = -1;           // label index, -1 without a gender model
  float gender_score = 0;
  float age = -1;  // mean age (years) over the second's frames, < 0 without an age model
  int frames = 0;  // analysed frames of this track in this second
};

// Collects the smoothed per-frame results and emits, for every second of video time in
// which a track was seen, the mean of its smoothed probabilities over that second.
class TimelineBuilder {
 public:
  // `emotion` and `gender` are the track's smoothed probabilities in this frame (gender may
  // be empty); `age` the frame's own age estimate (< 0: none).
  void add(int track, double time, const Detection& box, const std::vector<float>& emotion,
           const std::vector<float>& gender, float age = -1.f) {
    const double second = std::floor(std::max(0.0, time));
    Acc& a = acc_[{second, track}];
    if (a.frames == 0) {
      a.box = box;
      a.emotion.assign(emotion.size(), 0.f);
      a.gender.assign(gender.size(), 0.f);
    }
    for (std::size_t i = 0; i < emotion.size() && i < a.emotion.size(); ++i)
      a.emotion[i] += emotion[i];
    for (std::size_t i = 0; i < gender.size() && i < a.gender.size(); ++i) a.gender[i] += gender[i];
    a.detector_score += double(box.score);
    if (age >= 0) {
      a.age_sum += double(age);
      a.age_frames += 1;
    }
    a.frames += 1;
  }

  // Entries ordered by second, then track.
  std::vector<TimelineEntry> entries() const {
    std::vector<TimelineEntry> out;
    for (const auto& kv : acc_) {
      const Acc& a = kv.second;
      TimelineEntry e;
      e.seconds = kv.first.first;
      e.track = kv.first.second;
      e.box = a.box;
      e.frames = a.frames;
      if (!a.emotion.empty()) {
        e.emotion = int(std::max_element(a.emotion.begin(), a.emotion.end()) - a.emotion.begin());
        e.probability = a.emotion[std::size_t(e.emotion)] / float(a.frames);
      }
      e.detector_score = float(a.detector_score / a.frames);
      if (!a.gender.empty()) {
        e.gender = int(std::max_element(a.gender.begin(), a.gender.end()) - a.gender.begin());
        e.gender_score = a.gender[std::size_t(e.gender)] / float(a.frames);
      }
      if (a.age_frames > 0) e.age = float(a.age_sum / a.age_frames);
      out.push_back(e);
    }
    return out;
  }

 private:
  struct Acc {
    Detection box;
    std::vector<float> emotion, gender;
    double detector_score = 0;  // sum over the frames
    double age_sum = 0;         // over the frames with an age
    int age_frames = 0;
    int frames = 0;
  };
  std::map<std::pair<double, int>, Acc> acc_;
};

// Per-track label counts over the clip, for the summary.
struct TrackSummary {
  int track = 0;
  int64_t frames = 0;              // analysed frames with this face
  std::vector<int64_t> counts;     // frames per smoothed emotion label
  std::vector<double> mean_probs;  // mean smoothed probabilities
  std::vector<int64_t> gender_counts;
  std::vector<float> ages;  // per analysed frame with an age estimate (years)
  int dominant() const {
    return counts.empty() ? -1
                          : int(std::max_element(counts.begin(), counts.end()) - counts.begin());
  }
  double share(int label) const {
    return frames > 0 && label >= 0 ? double(counts[std::size_t(label)]) / double(frames) : 0.0;
  }
  int gender() const {
    if (gender_counts.empty()) return -1;
    return int(std::max_element(gender_counts.begin(), gender_counts.end()) -
               gender_counts.begin());
  }
  // The track's age: the median of its frames' estimates (a few frames caught mid-turn or
  // blurred give wild ages; the median ignores them), < 0 without any.
  float median_age() const {
    if (ages.empty()) return -1.f;
    std::vector<float> v = ages;
    const std::size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(mid), v.end());
    if (v.size() % 2) return v[mid];
    const float hi = v[mid];
    return 0.5f * (*std::max_element(v.begin(), v.begin() + std::ptrdiff_t(mid)) + hi);
  }
};

class ClipSummaryBuilder {
 public:
  void add(int track, const std::vector<float>& emotion, int gender, std::size_t gender_labels,
           float age = -1.f) {
    TrackSummary& s = tracks_[track];
    if (s.frames == 0) {
      s.track = track;
      s.counts.assign(emotion.size(), 0);
      s.mean_probs.assign(emotion.size(), 0.0);
      s.gender_counts.assign(gender_labels, 0);
    }
    s.frames += 1;
    if (!emotion.empty()) {
      const int label = int(std::max_element(emotion.begin(), emotion.end()) - emotion.begin());
      s.counts[std::size_t(label)] += 1;
      for (std::size_t i = 0; i < emotion.size(); ++i)
        s.mean_probs[i] += (emotion[i] - s.mean_probs[i]) / double(s.frames);
    }
    if (gender >= 0 && std::size_t(gender) < s.gender_counts.size())
      s.gender_counts[std::size_t(gender)] += 1;
    if (age >= 0) s.ages.push_back(age);
  }
  const TrackSummary* track(int id) const {
    auto it = tracks_.find(id);
    return it == tracks_.end() ? nullptr : &it->second;
  }
  const std::map<int, TrackSummary>& tracks() const { return tracks_; }

 private:
  std::map<int, TrackSummary> tracks_;
};

}  // namespace mien
