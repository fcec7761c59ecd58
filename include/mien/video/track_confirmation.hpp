// Which tracks are people: a track is confirmed once it has been found in `frames`
// analysed frames within its first `window` analysed frames and its best detector score
// reached `min_score`; otherwise it is rejected when its window closes. One- and
// two-frame detector blips (a crest, a lamp, a pattern on a shirt) never reach the outputs.
//
// The rule counts analysed (sampled) frames, never decoded ones, so it means the same with
// --fps 1 as at full rate. Confirmed tracks get dense ids 1, 2, 3... in order of
// confirmation (ties in the order the tracks started), so users never see the gaps that
// rejected tracks leave in the tracker's own numbering.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "mien/core/error.hpp"

namespace mien {

struct ConfirmOptions {
  int frames = 3;          // analysed frames a track must be found in (1: confirm at once)
  int window = 5;          // ... within its first `window` analysed frames
  float min_score = 0.5f;  // best detector score it must reach in them
  // At a shot cut a pending track found in every analysed frame of the shot, at least twice
  // and over at least this long, is confirmed: with --fps 1 a 2-second shot holds only two
  // analysed frames, while two frames of a 0.1 s flash are still a blip.
  double min_shot_seconds = 0.5;
};

class TrackConfirmer {
 public:
  enum class State { Pending, Confirmed, Rejected };

  explicit TrackConfirmer(ConfirmOptions opt = {}) : opt_(opt) {
    MIEN_CHECK(opt_.frames >= 1, "confirmation needs at least 1 frame");
    MIEN_CHECK(opt_.window >= opt_.frames, "the confirmation window (", opt_.window,
               " frames) must be at least the frames to confirm (", opt_.frames, ")");
  }

  // One analysed frame at `time` (seconds): the tracker's ids found in it and their
  // detector scores (same order). Returns the ids rejected by this frame.
  std::vector<int> observe(const std::vector<int>& ids, const std::vector<float>& scores,
                           double time = 0) {
    ++frame_;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] <= 0) continue;
      auto it = tracks_.find(ids[i]);
      if (it == tracks_.end()) {
        it = tracks_.emplace(ids[i], Info{}).first;
        it->second.start = frame_;
        it->second.first_time = time;
      }
      Info& t = it->second;
      t.hits += 1;
      t.last_time = time;
      if (i < scores.size() && scores[i] > t.best) t.best = scores[i];
    }
    std::vector<int> rejected;
    for (auto& kv : tracks_) {  // in id order = the order the tracks started
      Info& t = kv.second;
      if (t.state != State::Pending) continue;
      if (t.hits >= opt_.frames && t.best >= opt_.min_score) {
        confirm(t);
      } else if (frame_ - t.start + 1 >= opt_.window) {
        t.state = State::Rejected;
        rejected.push_back(kv.first);
      }
    }
    return rejected;
  }

  // The stream ended: a pending track is confirmed when it was found in every analysed
  // frame since it started (a clip shorter than the rule is not a reason to hide a face
  // that was always there), else rejected. Returns the ids rejected.
  std::vector<int> finish() { return decide_pending(1, 0.0); }

  // A shot cut ended every track: as at the end of the stream, but a track needs at least
  // two sightings (or `frames`, if fewer) `min_shot_seconds` apart.
  std::vector<int> end_shot() {
    return decide_pending(std::min<int64_t>(2, opt_.frames),
                          opt_.frames > 1 ? opt_.min_shot_seconds : 0.0);
  }

 private:
  std::vector<int> decide_pending(int64_t min_hits, double min_seconds) {
    std::vector<int> rejected;
    for (auto& kv : tracks_) {
      Info& t = kv.second;
      if (t.state != State::Pending) continue;
      if (t.hits >= min_hits && t.hits == frame_ - t.start + 1 && t.best >= opt_.min_score &&
          t.last_time - t.first_time >= min_seconds) {
        confirm(t);
      } else {
        t.state = State::Rejected;
        rejected.push_back(kv.first);
      }
    }
    return rejected;
  }

 public:
  // Unknown ids are pending: a track not observed yet is not decided.
  State state(int id) const {
    auto it = tracks_.find(id);
    return it == tracks_.end() ? State::Pending : it->second.state;
  }
  bool decided(int id) const { return state(id) != State::Pending; }
  // The user-facing id of a confirmed track, else 0.
  int public_id(int id) const {
    auto it = tracks_.find(id);
    return it == tracks_.end() ? 0 : it->second.public_id;
  }
  int confirmed_count() const { return next_public_ - 1; }

 private:
  struct Info {
    int64_t start = 0, hits = 0;
    double first_time = 0, last_time = 0;
    float best = 0;
    State state = State::Pending;
    int public_id = 0;
  };
  void confirm(Info& t) {
    t.state = State::Confirmed;
    t.public_id = next_public_++;
  }

  ConfirmOptions opt_;
  std::map<int, Info> tracks_;
  int64_t frame_ = 0;
  int next_public_ = 1;
};

}  // namespace mien
