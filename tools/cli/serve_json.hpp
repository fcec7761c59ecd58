// The JSON documents of `mien serve` that `mien image --json` and `mien video --json` do
// not already define: errors, the loaded models (GET /v1/models), a webcam frame's
// tracked faces, and a video's summary (POST /v1/video).
#pragma once

#include <string>
#include <vector>

#include "mien/io/faces.hpp"
#include "mien/io/video_results.hpp"
#include "mien/video/video_analyzer.hpp"
#include "tools/cli/serve_sessions.hpp"

namespace mien::cli {

// {"error":"...","status":400}: every failure the server reports.
inline std::string error_json(int status, const std::string& message) {
  Json j;
  j["error"] = message;
  j["status"] = status;
  return json_text(j) + "\n";
}

// A metadata value as JSON; arrays longer than 64 items are summarised (test vectors and
// anchor tables are of no use to a client).
inline Json metadata_value_json(const MetaValue& v) {
  auto array = [](const auto& vec) -> Json {
    if (vec.size() > 64) return Json{{"items", vec.size()}};
    Json a = Json::array();
    for (const auto& x : vec) a.push_back(x);
    return a;
  };
  switch (value_type(v)) {
    case ValueType::Int:
      return std::get<int64_t>(v);
    case ValueType::Float:
      return json_number(std::get<double>(v), 9);
    case ValueType::String:
      return std::get<std::string>(v);
    case ValueType::IntArray:
      return array(std::get<std::vector<int64_t>>(v));
    case ValueType::FloatArray: {
      const auto& d = std::get<std::vector<double>>(v);
      if (d.size() > 64) return Json{{"items", d.size()}};
      Json a = Json::array();
      for (double x : d) a.push_back(json_number(x, 9));
      return a;
    }
    case ValueType::StringArray:
      return array(std::get<std::vector<std::string>>(v));
  }
  return nullptr;
}

inline Json model_json(const std::string& role, const Model& m, double weight = -1) {
  Json j;
  j["role"] = role;
  j["origin"] = m.origin();
  j["parameters"] = m.parameters();
  if (weight >= 0) j["ensemble_weight"] = json_number(weight, 4);
  Json meta = Json::object();
  for (const auto& kv : m.metadata().values()) meta[kv.first] = metadata_value_json(kv.second);
  j["metadata"] = std::move(meta);
  return j;
}

// GET /v1/models: the models every request runs, with the pipeline's labels.
inline Json models_json(const PipelineModels& models, const Pipeline& p) {
  Json j;
  j["models"] = Json::array();
  j["models"].push_back(model_json("detector", models.detector));
  for (std::size_t i = 0; i < models.emotion.size(); ++i)
    j["models"].push_back(model_json("emotion", models.emotion[i], p.emotion_weight(i)));
  if (models.gender.loaded()) j["models"].push_back(model_json("gender", models.gender));
  if (models.age.loaded()) j["models"].push_back(model_json("age", models.age));
  j["emotion_labels"] = p.emotion_labels();
  j["gender_labels"] = p.gender_labels();
  return j;
}

// A webcam frame (POST /v1/analyze?track=ID): `mien image --json`'s object with each
// face's track id and smoothed emotion added.
inline void add_live_faces(Json& image, const std::vector<LiveFace>& live, const Pipeline& p) {
  Json& faces = image["faces"];
  for (std::size_t i = 0; i < live.size() && i < faces.size(); ++i) {
    if (live[i].track == 0) continue;
    faces[i]["track"] = live[i].track;
    Json smoothed;
    smoothed["label"] = p.emotion_labels()[std::size_t(live[i].label)];
    smoothed["scores"] = Json::object();
    for (std::size_t k = 0; k < live[i].emotion.size(); ++k)
      smoothed["scores"][p.emotion_labels()[k]] = json_number(live[i].emotion[k]);
    faces[i]["smoothed"] = std::move(smoothed);
  }
}

// POST /v1/video's result: the clip, each confirmed track's summary (frames, time span,
// dominant emotion and its distribution, gender, median age) and the per-second timeline entries of
// `mien video --json`.
inline Json video_result_json(const VideoInfo& info, const VideoAnalyzer& a, const Pipeline& p,
                              int decode_errors) {
  Json j;
  j["type"] = "result";
  j["width"] = info.width;
  j["height"] = info.height;
  j["fps"] = json_number(info.fps, 6);
  j["frames_decoded"] = a.frames_decoded();
  j["frames_analyzed"] = a.frames_analyzed();
  j["shot_cuts"] = a.shot_cuts();
  j["decoding_errors"] = decode_errors;
  j["main_track"] = a.main_track();
  j["tracks"] = Json::array();
  for (const Track& t : a.tracks()) {
    const TrackSummary* s = a.summary().track(t.id);
    if (!s) continue;
    Json tj;
    tj["track"] = t.id;
    tj["frames"] = s->frames;
    tj["first_seconds"] = json_fixed(t.first_time, 2);
    tj["last_seconds"] = json_fixed(t.last_time, 2);
    const int dominant = s->dominant();
    tj["emotion"] = dominant >= 0 ? p.emotion_labels()[std::size_t(dominant)] : "";
    tj["distribution"] = Json::object();
    for (std::size_t k = 0; k < s->counts.size(); ++k)
      tj["distribution"][p.emotion_labels()[k]] = json_number(s->share(int(k)), 4);
    if (s->gender() >= 0) tj["gender"] = p.gender_labels()[std::size_t(s->gender())];
    if (s->median_age() >= 0) tj["age"] = json_fixed(s->median_age(), 1);
    j["tracks"].push_back(std::move(tj));
  }
  j["timeline"] = Json::array();
  for (const TimelineEntry& e : a.timeline()) j["timeline"].push_back(timeline_entry_json(e, p));
  return j;
}

}  // namespace mien::cli
