// Webcam sessions of `mien serve`: the page sends a camera's frames one by one to
// POST /v1/analyze?track=ID; each ID keeps its own FaceTracker and smoothers (the ones
// `mien video` uses), so faces keep their track id and their labels are smoothed over
// the last frames instead of flickering. No confirmation delay: a live view shows a face
// at once. Sessions are few (at most `max_sessions`) and end after `idle_seconds`
// without a frame, so a client cannot make the server hold state without bound.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mien/video/appearance.hpp"
#include "mien/video/smoothing.hpp"
#include "mien/video/tracker.hpp"
#include "mien/vision/pipeline.hpp"

namespace mien::cli {

struct LiveFace {
  int track = 0;
  std::vector<float> emotion;  // smoothed, pipeline label order
  int label = -1;
};

class LiveSession {
 public:
  explicit LiveSession(SmoothingOptions smoothing)
      : emotion_(smoothing), start_(std::chrono::steady_clock::now()) {}

  // One frame's faces, in the order given: track ids and smoothed emotions. Frames of one
  // session are taken one at a time (the caller holds mutex()).
  std::vector<LiveFace> update(const Image& img, const std::vector<FaceResult>& faces) {
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    // The server's clock, not the client's: frames arrive at the page's steady rate, and a
    // client-sent time could run backwards.
    if (t <= last_time_) return update_at(img, faces, last_time_ + 1e-3);
    return update_at(img, faces, t);
  }
  std::mutex& mutex() { return mutex_; }

 private:
  std::vector<LiveFace> update_at(const Image& img, const std::vector<FaceResult>& faces,
                                  double t) {
    last_time_ = t;
    std::vector<Detection> boxes;
    std::vector<std::vector<float>> looks;
    for (const FaceResult& f : faces) {
      boxes.push_back(f.face);
      looks.push_back(face_appearance(img, f.face));
    }
    const std::vector<int> ids = tracker_.update(boxes, t, looks);
    std::vector<LiveFace> out(faces.size());
    for (std::size_t i = 0; i < faces.size(); ++i) {
      if (ids[i] == 0) continue;  // a duplicate box of a tracked face
      out[i].track = ids[i];
      out[i].emotion = emotion_.update(ids[i], faces[i].emotion_scores);
      out[i].label = argmax(out[i].emotion);
    }
    return out;
  }

  std::mutex mutex_;
  FaceTracker tracker_;
  TrackSmoothers emotion_;
  std::chrono::steady_clock::time_point start_;
  double last_time_ = -1;
};

class LiveSessions {
 public:
  LiveSessions(std::size_t max_sessions, double idle_seconds, SmoothingOptions smoothing)
      : max_(max_sessions), idle_(idle_seconds), smoothing_(smoothing) {}

  // A session id is 1-64 of [A-Za-z0-9_-] (the page makes a random one).
  static bool valid_id(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    return true;
  }

  // The session `id`, created if new; null when all `max_sessions` are busy.
  std::shared_ptr<LiveSession> get(const std::string& id) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (std::chrono::duration<double>(now - it->second.used).count() > idle_)
        it = sessions_.erase(it);
      else
        ++it;
    }
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      if (sessions_.size() >= max_) return nullptr;
      it = sessions_.emplace(id, Entry{std::make_shared<LiveSession>(smoothing_), now}).first;
    }
    it->second.used = now;
    return it->second.session;
  }

 private:
  struct Entry {
    std::shared_ptr<LiveSession> session;
    std::chrono::steady_clock::time_point used;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> sessions_;
  std::size_t max_;
  double idle_;
  SmoothingOptions smoothing_;
};

}  // namespace mien::cli
