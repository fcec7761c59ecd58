// One record per input image for folder-scale runs (`mien image --jsonl/--csv`, and the
// Python batch tool, which writes the same JSONL), so that a failed image is a line in
// the results, not only a message on stderr:
//
// JSONL, one line per image:
//   {"file":..,"width":..,"height":..,"faces":[..],"status":"ok"}   (image_json + status)
//   {"file":..,"status":"error","error":"<mien's message>"}
// CSV, one row per face (an image without faces, or a failed one, still gets one row, with
// the face fields empty, so every input appears):
//   file,status,error,face,x,y,w,h,score,p_<label>...,emotion,gender,gender_score,age
// `face` is the face's index in the JSON "faces" array (0-based); gender columns are empty
// when no gender model ran, `age` when no age model ran (FaceResult::age < 0). The columns
// do not depend on the options, so the CSVs of several shards concatenate. Numbers are
// written with the digits of the JSON (%.7g boxes, %.6g scores): both files agree.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "mien/io/csv.hpp"
#include "mien/io/faces.hpp"
#include "mien/io/json.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"

namespace mien {

inline Json image_record_ok(const std::string& file, const Image& img,
                            const std::vector<FaceResult>& faces, const Pipeline& p) {
  Json j = image_json(file, img, faces, p);
  j["status"] = "ok";
  return j;
}

inline Json image_record_error(const std::string& file, const std::string& message) {
  Json j;
  j["file"] = file;
  j["status"] = "error";
  j["error"] = message;
  return j;
}

inline std::string batch_csv_header(const Pipeline& p) {
  std::string s = "file,status,error,face,x,y,w,h,score";
  for (const std::string& l : p.emotion_labels()) s += "," + csv_field("p_" + l);
  return s + ",emotion,gender,gender_score,age\n";
}

namespace detail {
inline std::string csv_number(double v, int digits) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}
// The face columns left empty: face..score, one per label, emotion..age.
inline std::string empty_face_cells(const Pipeline& p) {
  return std::string(6 + p.emotion_labels().size() + 4, ',');
}
}  // namespace detail

inline std::string batch_csv_rows(const std::string& file, const std::vector<FaceResult>& faces,
                                  const Pipeline& p) {
  const std::string head = csv_field(file) + ",ok,";
  if (faces.empty()) return head + detail::empty_face_cells(p) + "\n";
  std::string s;
  for (std::size_t i = 0; i < faces.size(); ++i) {
    const FaceResult& r = faces[i];
    const Detection& b = r.face;
    s += head + "," + std::to_string(i);
    for (float v : {b.x, b.y, b.w, b.h}) s += "," + detail::csv_number(v, 7);
    s += "," + detail::csv_number(b.score, 6);
    for (std::size_t k = 0; k < p.emotion_labels().size(); ++k)  // one cell per header label
      s += "," + (k < r.emotion_scores.size() ? detail::csv_number(r.emotion_scores[k], 6) : "");
    s += "," + (r.emotion >= 0 ? csv_field(p.emotion_labels()[std::size_t(r.emotion)]) : "");
    if (r.gender >= 0)
      s += "," + csv_field(p.gender_labels()[std::size_t(r.gender)]) + "," +
           detail::csv_number(r.gender_score, 6);
    else
      s += ",,";
    char age[24] = "";  // years with one decimal, as the JSON's "age"
    if (r.age >= 0) std::snprintf(age, sizeof age, "%.1f", double(r.age));
    s += "," + std::string(age);
    s += "\n";
  }
  return s;
}

inline std::string batch_csv_error_row(const std::string& file, const std::string& message,
                                       const Pipeline& p) {
  return csv_field(file) + ",error," + csv_field(message) + detail::empty_face_cells(p) + "\n";
}

}  // namespace mien
