// A photo's faces (Pipeline::analyze) as JSON: the objects `mien image --json` prints,
// one per image:
//   {"file":..,"width":..,"height":..,"faces":[{"box":[x,y,w,h],"score":..,
//    "landmarks":[[x,y],..],"emotion":{"label":..,"scores":{label:p,..}},
//    "gender":{"label":..,"score":..},"age":31.4}]}   ("gender", "age" only when run;
//    age in years, one decimal: the model is nowhere near that precise, more would be noise)
#pragma once

#include <string>
#include <vector>

#include "mien/io/json.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"

namespace mien {

inline Json face_json(const FaceResult& r, const Pipeline& p) {
  const Detection& f = r.face;
  Json j;
  j["box"] = {json_number(f.x, 7), json_number(f.y, 7), json_number(f.w, 7), json_number(f.h, 7)};
  j["score"] = json_number(f.score);
  j["landmarks"] = Json::array();
  for (const auto& k : f.keypoints)
    j["landmarks"].push_back({json_number(k.x, 7), json_number(k.y, 7)});
  Json emotion;
  emotion["label"] = r.emotion >= 0 ? p.emotion_labels()[std::size_t(r.emotion)] : "";
  emotion["scores"] = Json::object();
  for (std::size_t k = 0; k < r.emotion_scores.size(); ++k)
    emotion["scores"][p.emotion_labels()[k]] = json_number(r.emotion_scores[k]);
  j["emotion"] = std::move(emotion);
  if (r.gender >= 0)
    j["gender"] = {{"label", p.gender_labels()[std::size_t(r.gender)]},
                   {"score", json_number(r.gender_score)}};
  if (r.age >= 0) j["age"] = json_fixed(r.age, 1);
  return j;
}

inline Json image_json(const std::string& file, const Image& img,
                       const std::vector<FaceResult>& faces, const Pipeline& p) {
  Json j;
  j["file"] = file;
  j["width"] = img.width;
  j["height"] = img.height;
  j["faces"] = Json::array();
  for (const FaceResult& f : faces) j["faces"].push_back(face_json(f, p));
  return j;
}

}  // namespace mien
