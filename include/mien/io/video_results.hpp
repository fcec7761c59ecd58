// A video's results as files: the per-second timeline as JSON (`mien video --json`) and
// the per-frame rows of every tracked face as CSV (`mien video --csv`).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "mien/io/csv.hpp"
#include "mien/io/json.hpp"
#include "mien/video/timeline.hpp"
#include "mien/video/video_analyzer.hpp"
#include "mien/vision/pipeline.hpp"

namespace mien {

// One timeline entry: {"type":"emotion","class":..,"seconds":15.0,"object":{"track":1,
// "box":[x,y,w,h],"probability":..,"detector_score":..,"gender":..,"age":..}} (gender and
// age when their models ran; age: the second's mean, years, one decimal).
inline Json timeline_entry_json(const TimelineEntry& e, const Pipeline& p) {
  Json object;
  object["track"] = e.track;
  object["box"] = {json_number(e.box.x), json_number(e.box.y), json_number(e.box.w),
                   json_number(e.box.h)};
  object["probability"] = json_number(e.probability, 4);
  object["detector_score"] = json_number(e.detector_score, 4);
  if (e.gender >= 0) object["gender"] = p.gender_labels()[std::size_t(e.gender)];
  if (e.age >= 0) object["age"] = json_fixed(e.age, 1);
  Json j;
  j["type"] = "emotion";
  j["class"] = e.emotion >= 0 ? p.emotion_labels()[std::size_t(e.emotion)] : "";
  j["seconds"] = json_fixed(e.seconds, 1);
  j["object"] = std::move(object);
  return j;
}

// The timeline as a JSON array, one entry per line. `decode_errors` > 0 adds a first
// entry {"type":"decoding_errors","count":N}: the results come from a damaged stream.
inline std::string timeline_json(const std::vector<TimelineEntry>& entries, const Pipeline& p,
                                 int decode_errors = 0) {
  std::vector<Json> items;
  if (decode_errors > 0) items.push_back({{"type", "decoding_errors"}, {"count", decode_errors}});
  for (const TimelineEntry& e : entries) items.push_back(timeline_entry_json(e, p));
  std::string s = "[";
  for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ",\n " : "\n ") + json_text(items[i]);
  return s + "\n]\n";
}

// Per-frame CSV: frame,time,track,x,y,w,h,face_score,p_<label>...,smoothed_emotion
// [,gender,gender_score][,age] (age: the frame's own estimate, years).
inline std::string frames_csv_header(const Pipeline& p) {
  std::string s = "frame,time,track,x,y,w,h,face_score";
  for (const std::string& l : p.emotion_labels()) s += "," + csv_field("p_" + l);
  s += ",smoothed_emotion";
  if (p.has_gender()) s += ",gender,gender_score";
  if (p.has_age()) s += ",age";
  return s + "\n";
}

inline std::string frames_csv_rows(const FrameResult& r, const Pipeline& p) {
  std::string s;
  char buf[160];
  for (const TrackedFace& t : r.faces) {
    const Detection& b = t.raw.face;
    std::snprintf(buf, sizeof buf, "%lld,%.4f,%d,%.1f,%.1f,%.1f,%.1f,%.4f", (long long)r.index,
                  r.time, t.track, double(b.x), double(b.y), double(b.w), double(b.h),
                  double(b.score));
    s += buf;
    for (float v : t.raw.emotion_scores) {
      std::snprintf(buf, sizeof buf, ",%.5f", double(v));
      s += buf;
    }
    s += "," + csv_field(p.emotion_labels()[std::size_t(t.label)]);
    if (p.has_gender()) {
      if (t.raw.gender >= 0) {
        std::snprintf(buf, sizeof buf, ",%.4f", double(t.raw.gender_score));
        s += "," + csv_field(p.gender_labels()[std::size_t(t.raw.gender)]) + buf;
      } else {
        s += ",,";
      }
    }
    if (p.has_age()) {
      s += ",";
      if (t.raw.age >= 0) {
        std::snprintf(buf, sizeof buf, "%.1f", double(t.raw.age));
        s += buf;
      }
    }
    s += "\n";
  }
  return s;
}

}  // namespace mien
