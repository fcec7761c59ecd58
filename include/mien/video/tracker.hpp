// Links face detections across video frames into tracks with stable ids.
//
// Each analysed frame's faces are matched to the live tracks greedily, best pair first.
// A pair's score is the IoU between the face and the track's expected box (its last box,
// or that box moved by its recent velocity, whichever fits better); when the IoU is too
// low (fast motion, sparse sampling) a face whose centre lies close to the expected box
// still matches, with a lower score; "close" grows with the time since the track was
// last seen, so sparse sampling (--fps 1) still links a moving face. Faces
// whose size differs too much from the track's never match. Unmatched faces start new
// tracks; a track missed for longer than `memory_seconds` ends, so a face hidden for a
// moment (a turned head, a missed detection) keeps its id.
//
// Re-linking: a face that matches no track by position (a fast head turn moves the box
// by most of a face size between frames; a face hidden for longer than the memory) is
// given back an unmatched track's id when the gap is at most `relink_seconds`, the sizes
// agree, the centre is within `relink_reach` face sizes and its appearance (a gray
// thumbnail, appearance.hpp) correlates with the track's. Without appearance descriptors
// nothing is re-linked: position alone cannot tell a returning face from a newcomer.
// Tracks ended by a shot cut or discarded (unconfirmed noise) are never re-linked.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "mien/video/appearance.hpp"
#include "mien/vision/detection.hpp"

namespace mien {

struct TrackerOptions {
  float min_iou = 0.3f;           // overlap that continues a track
  float max_center_shift = 0.6f;  // else: centre within this many face sizes of the prediction
  float max_speed = 1.0f;         // ... plus this many face sizes per second since last seen
  float max_size_ratio = 1.8f;    // face size (sqrt of area) may change at most by this factor
  double memory_seconds = 1.0;    // a track survives this long without a detection
  // An unmatched face covering this share of the smaller box of a face that continues a
  // track is a duplicate box of that face, not a new person.
  float duplicate_overlap = 0.5f;
  double relink_seconds = 2.0;  // longest gap re-linked by appearance; 0: no re-linking
  float relink_reach = 1.5f;    // centre distance, in face sizes, a re-link may bridge
  float min_appearance = 0.6f;  // thumbnail correlation a re-link needs
};

struct Track {
  int id = 0;
  Detection box;  // latest matched box
  double first_time = 0, last_time = 0;
  int64_t hits = 0;      // analysed frames in which the face was found
  double area_sum = 0;   // sum of box areas over those frames (size x presence)
  float vx = 0, vy = 0;  // centre velocity in pixels per second
  bool alive = true;
  bool linkable = true;           // false after a shot cut or discard(): never re-linked
  std::vector<float> appearance;  // running mean of the face's descriptors (may be empty)
  int64_t relinks = 0;            // fragments joined to this track by re-linking
};

class FaceTracker {
 public:
  explicit FaceTracker(TrackerOptions opt = {}) : opt_(opt) {}

  // Matches the faces of the frame at `time` (seconds, increasing) and returns each face's
  // track id, in the order of `faces`; 0 for a duplicate box of a tracked face.
  // `appearance` (empty, or one face_appearance() descriptor per face) enables re-linking.
  std::vector<int> update(const std::vector<Detection>& faces, double time,
                          const std::vector<std::vector<float>>& appearance = {}) {
    auto descriptor = [&](std::size_t fi) -> const std::vector<float>& {
      static const std::vector<float> none;
      return fi < appearance.size() ? appearance[fi] : none;
    };
    // End tracks that have been missing for too long.
    for (Track& t : tracks_)
      if (t.alive && time - t.last_time > opt_.memory_seconds) t.alive = false;

    struct Pair {
      float score;
      std::size_t track, face;
    };
    std::vector<Pair> pairs;
    for (std::size_t ti = 0; ti < tracks_.size(); ++ti) {
      const Track& t = tracks_[ti];
      if (!t.alive) continue;
      const Detection pred = predict(t, time);
      const float ts = face_size(t.box);
      for (std::size_t fi = 0; fi < faces.size(); ++fi) {
        const float fs = face_size(faces[fi]);
        if (ts <= 0 || fs <= 0 || std::max(ts, fs) > opt_.max_size_ratio * std::min(ts, fs))
          continue;
        // People on video move erratically (a performer's head at 2 samples/s): the
        // motion prediction helps on smooth motion, the last box on jerky motion.
        const float reach = opt_.max_center_shift + opt_.max_speed * float(time - t.last_time);
        const float score = std::max(match_score(pred, faces[fi], std::max(ts, fs), reach),
                                     match_score(t.box, faces[fi], std::max(ts, fs), reach));
        if (score > 0) pairs.push_back({score, ti, fi});
      }
    }
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const Pair& a, const Pair& b) { return a.score > b.score; });
    std::vector<int> ids(faces.size(), 0);
    std::vector<char> track_used(tracks_.size(), 0);
    for (const Pair& p : pairs) {
      if (track_used[p.track] || ids[p.face]) continue;
      // A second box of a face matched already (better pairs come first) must not be taken
      // by a track that only reaches it by distance, or one face would carry two ids. An
      // overlap match is kept: two people crossing each other overlap too.
      if (p.score < 1.f && duplicate_of_matched(faces, ids, p.face)) continue;
      track_used[p.track] = 1;
      Track& t = tracks_[p.track];
      const double dt = time - t.last_time;
      if (dt > 0) {
        // Smoothed velocity: detections jitter by a few pixels from frame to frame.
        const float nvx = float((cx(faces[p.face]) - cx(t.box)) / dt);
        const float nvy = float((cy(faces[p.face]) - cy(t.box)) / dt);
        t.vx = 0.5f * t.vx + 0.5f * nvx;
        t.vy = 0.5f * t.vy + 0.5f * nvy;
      }
      observe(t, faces[p.face], time, descriptor(p.face));
      ids[p.face] = t.id;
    }
    for (std::size_t fi = 0; fi < faces.size(); ++fi) {
      if (ids[fi]) continue;
      if (duplicate_of_matched(faces, ids, fi)) continue;  // id stays 0
      const std::size_t back = relink(faces[fi], time, descriptor(fi), track_used);
      if (back < tracks_.size()) {
        Track& t = tracks_[back];
        track_used[back] = 1;
        t.alive = true;
        t.vx = t.vy = 0;  // the motion across a gap says nothing about the next frame
        t.relinks += 1;
        observe(t, faces[fi], time, descriptor(fi));
        ids[fi] = t.id;
        continue;
      }
      Track t;
      t.id = next_id_++;
      t.first_time = time;
      observe(t, faces[fi], time, descriptor(fi));
      tracks_.push_back(t);
      track_used.push_back(1);
      ids[fi] = t.id;
    }
    return ids;
  }

  // Ends track `id` for good (the caller found it to be noise): it is never re-linked.
  void discard(int id) {
    for (Track& t : tracks_)
      if (t.id == id) t.alive = t.linkable = false;
  }

  // Keeps tracks for at least `seconds` without a detection: with sparse sampling the
  // memory must outlast the gap between analysed frames.
  void ensure_memory(double seconds) {
    opt_.memory_seconds = std::max(opt_.memory_seconds, seconds);
  }

  // Ends every live track (at a shot cut): the next faces start new tracks, never
  // re-linked to the tracks of the shot before.
  void end_all() {
    for (Track& t : tracks_) t.alive = t.linkable = false;
  }

  // A second box on a face that already continues a track (the detector sometimes keeps
  // two boxes of one moving face, which its NMS lets through at IoU < 0.3). Starting a
  // track for it would later swap the face's id when the detector picks the other box.
  bool duplicate_of_matched(const std::vector<Detection>& faces, const std::vector<int>& ids,
                            std::size_t fi) const {
    for (std::size_t k = 0; k < faces.size(); ++k) {
      if (k == fi || ids[k] <= 0) continue;
      const Detection& a = faces[fi];
      const Detection& b = faces[k];
      const float ix = std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x);
      const float iy = std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y);
      const float smaller = std::min(box_area(a), box_area(b));
      if (ix > 0 && iy > 0 && smaller > 0 && ix * iy / smaller >= opt_.duplicate_overlap)
        return true;
    }
    return false;
  }

  // Every track so far (ended ones too), in order of creation; ids start at 1.
  const std::vector<Track>& tracks() const { return tracks_; }

  // The clip's main face: the track with the largest size x presence (sum of its box
  // areas over the frames it was found in), i.e. large and long-present. 0 if none.
  int main_track() const {
    int best = 0;
    double best_score = 0;
    for (const Track& t : tracks_)
      if (t.area_sum > best_score) {
        best_score = t.area_sum;
        best = t.id;
      }
    return best;
  }

 private:
  static float cx(const Detection& d) { return d.x + 0.5f * d.w; }
  static float cy(const Detection& d) { return d.y + 0.5f * d.h; }
  static float face_size(const Detection& d) { return std::sqrt(box_area(d)); }

  // > 1 for an overlap match (IoU >= min_iou), in (0, 1) for a centre-distance match, 0 for
  // no match: any overlap match ranks above any distance match.
  // `reach`: the largest centre distance, in face sizes, that still matches.
  float match_score(const Detection& expected, const Detection& face, float size,
                    float reach) const {
    const float overlap = iou(expected, face);
    if (overlap >= opt_.min_iou) return 1.f + overlap;
    const float dx = cx(expected) - cx(face), dy = cy(expected) - cy(face);
    const float dist = std::sqrt(dx * dx + dy * dy) / size;
    return dist < reach ? 1.f - dist / reach : 0.f;
  }

  static Detection predict(const Track& t, double time) {
    Detection p = t.box;
    const float dt = float(time - t.last_time);
    p.x += t.vx * dt;
    p.y += t.vy * dt;
    return p;
  }

  // The unused track a face without a positional match continues, or tracks_.size().
  std::size_t relink(const Detection& face, double time, const std::vector<float>& desc,
                     const std::vector<char>& track_used) const {
    std::size_t best = tracks_.size();
    if (opt_.relink_seconds <= 0 || desc.empty()) return best;
    float best_sim = opt_.min_appearance;
    const float fs = face_size(face);
    for (std::size_t ti = 0; ti < tracks_.size(); ++ti) {
      const Track& t = tracks_[ti];
      if (track_used[ti] || !t.linkable || t.appearance.empty()) continue;
      if (time - t.last_time > std::max(opt_.relink_seconds, opt_.memory_seconds)) continue;
      const float ts = face_size(t.box);
      if (ts <= 0 || fs <= 0 || std::max(ts, fs) > opt_.max_size_ratio * std::min(ts, fs)) continue;
      const float dx = cx(t.box) - cx(face), dy = cy(t.box) - cy(face);
      if (std::sqrt(dx * dx + dy * dy) > opt_.relink_reach * std::max(ts, fs)) continue;
      const float sim = appearance_similarity(t.appearance, desc);
      if (sim >= best_sim) {
        best_sim = sim;
        best = ti;
      }
    }
    return best;
  }

  static void observe(Track& t, const Detection& d, double time,
                      const std::vector<float>& desc = {}) {
    t.box = d;
    t.last_time = time;
    t.hits += 1;
    t.area_sum += double(box_area(d));
    if (desc.empty()) return;
    // A running mean: the last few looks of the face, so one odd frame does not replace it.
    if (t.appearance.size() != desc.size()) {
      t.appearance = desc;
    } else {
      for (std::size_t i = 0; i < desc.size(); ++i)
        t.appearance[i] = 0.7f * t.appearance[i] + 0.3f * desc[i];
    }
  }

  TrackerOptions opt_;
  std::vector<Track> tracks_;
  int next_id_ = 1;
};

}  // namespace mien
