// Which analysed video frames run the face detector, and the boxes of the frames between.
//
// On 1080p the detector (full frame plus tiles) costs several times the classifiers, and
// faces move little from one frame to the next. So the detector runs on every Nth analysed
// frame (a key frame), on the first, and on every shot cut; a frame between two key frames
// gets, for each track found in both, the box interpolated linearly in time between its
// two key-frame boxes (keypoints too), and is then classified on those boxes like any
// frame. Interpolating, rather than extrapolating from the last key frame, keeps boxes
// on moving faces instead of trailing them; it is possible because frames are delivered
// late anyway (confirmation, track_confirmation.hpp), so the next key frame is known.
//
// A track found in only one of the two key frames (a face appearing, leaving, or missed
// once) is placed, at that key frame's box, in the frames nearer to that key frame: it is
// shown for about half the gap, as a face seen on every frame would be on average; track
// confirmation does not count it there (KeyFace::held).
// Before a shot cut, the frames between the last key frame and the cut keep that key
// frame's faces (the cut's faces belong to another scene).
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/vision/detection.hpp"

namespace mien {

// Decides, frame by analysed frame in order, which ones are key frames.
class DetectionSchedule {
 public:
  explicit DetectionSchedule(int every = 1) : every_(every) {
    MIEN_CHECK(every >= 1, "the detector must run at least every 1 analysed frame, not ", every);
  }
  // The next analysed frame: true if the detector runs on it. `cut`: it starts a new shot.
  bool next(bool cut) {
    const bool key = since_key_ < 0 || cut || since_key_ + 1 >= every_;
    since_key_ = key ? 0 : since_key_ + 1;
    return key;
  }
  int every() const { return every_; }

 private:
  int every_;
  int since_key_ = -1;  // analysed frames since the last key frame; -1 before the first
};

// A tracked face on a key frame: the tracker's id and its detected box.
struct KeyFace {
  int track = 0;
  Detection box;
  // True on a frame between key frames when the track was found in only one of them (the
  // box is that key frame's). Confirmation does not count such a face as found: a face
  // detected once must not pass for one seen on 3 frames because it was copied to its
  // neighbours.
  bool held = false;
};

// The faces of a frame at time `t` between a key frame at `t0` with faces `before` and
// the next key frame at `t1` with faces `after` (t0 < t < t1). Tracks in both get the
// interpolated box (score: the lower of the two); tracks in one only are kept at their box
// when `t` is nearer their key frame (ties go to `before`). `cut`: `after` begins a new
// shot, so `before`'s faces are kept unchanged. Order: `before`'s, then `after`'s newcomers.
inline std::vector<KeyFace> interpolate_faces(const std::vector<KeyFace>& before, double t0,
                                              const std::vector<KeyFace>& after, double t1,
                                              double t, bool cut = false) {
  std::vector<KeyFace> out;
  if (cut) {
    out = before;
    for (KeyFace& f : out) f.held = true;
    return out;
  }
  const double span = t1 - t0;
  const float a = span > 0 ? float((t - t0) / span) : 0.f;  // 0 at `before`, 1 at `after`
  const bool nearer_before = a <= 0.5f;
  auto find = [](const std::vector<KeyFace>& v, int track) -> const KeyFace* {
    for (const KeyFace& f : v)
      if (f.track == track) return &f;
    return nullptr;
  };
  auto mix = [a](float p, float q) { return p + (q - p) * a; };
  for (const KeyFace& b : before) {
    const KeyFace* n = find(after, b.track);
    if (!n) {
      if (nearer_before) {
        out.push_back(b);
        out.back().held = true;
      }
      continue;
    }
    KeyFace f;
    f.track = b.track;
    f.box.x = mix(b.box.x, n->box.x);
    f.box.y = mix(b.box.y, n->box.y);
    f.box.w = mix(b.box.w, n->box.w);
    f.box.h = mix(b.box.h, n->box.h);
    f.box.score = std::min(b.box.score, n->box.score);
    if (b.box.keypoints.size() == n->box.keypoints.size()) {
      f.box.keypoints.resize(b.box.keypoints.size());
      for (std::size_t k = 0; k < b.box.keypoints.size(); ++k)
        f.box.keypoints[k] = {mix(b.box.keypoints[k].x, n->box.keypoints[k].x),
                              mix(b.box.keypoints[k].y, n->box.keypoints[k].y)};
    } else {
      f.box.keypoints = (nearer_before ? b : *n).box.keypoints;
    }
    out.push_back(std::move(f));
  }
  if (!nearer_before)
    for (const KeyFace& n : after)
      if (!find(before, n.track)) {
        out.push_back(n);
        out.back().held = true;
      }
  return out;
}

}  // namespace mien
