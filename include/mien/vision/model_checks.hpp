// Checked reads of the metadata keys the vision models are driven by. A value of the wrong
// type, out of range, NaN or infinite, or an unknown name is an Error naming the key (the
// callers add the file), never a silently different result: a NaN NMS IoU keeps every
// box, an infinite input.scale turns every pixel into NaN, a detector.score of "Sigmoid"
// used to fall back to raw scores.
#pragma once

#include <cmath>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mien/model/model.hpp"
#include "mien/vision/labels.hpp"

namespace mien::meta {

inline std::string bounds(double lo, double hi, bool lo_open) {
  std::ostringstream os;
  os << (lo_open ? "(" : "[") << lo << ", " << hi << "]";
  return os.str();
}

// A finite number in [lo, hi] (or (lo, hi] when lo_open); `fallback` when the key is absent.
inline double number(const Metadata& m, const std::string& key, double fallback, double lo,
                     double hi, bool lo_open = false) {
  const double v = m.get_float(key, fallback);
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
  MIEN_CHECK(ok, "metadata key '", key, "' is ", v, ", expected a number in ",
             bounds(lo, hi, lo_open));
  return v;
}

// An integer in [lo, hi], checked as int64 before any narrowing (2^40 must not become 0).
inline int64_t integer(const Metadata& m, const std::string& key, int64_t fallback, int64_t lo,
                       int64_t hi) {
  const int64_t v = m.get_int(key, fallback);
  MIEN_CHECK(v >= lo && v <= hi, "metadata key '", key, "' is ", v, ", expected an integer in [",
             lo, ", ", hi, "]");
  return v;
}

// Every value finite (per-channel scale/offset).
inline std::vector<double> finite_numbers(const Metadata& m, const std::string& key,
                                          std::vector<double> fallback) {
  std::vector<double> v = m.get_floats(key, std::move(fallback));
  MIEN_CHECK(!v.empty(), "metadata key '", key, "' is empty");
  for (std::size_t i = 0; i < v.size(); ++i)
    MIEN_CHECK(std::isfinite(v[i]), "metadata key '", key, "' value ", i, " is ", v[i],
               ", expected a finite number");
  return v;
}

// One of the names in `allowed`; `fallback` when absent.
inline std::string choice(const Metadata& m, const std::string& key, const std::string& fallback,
                          std::initializer_list<const char*> allowed) {
  const std::string v = m.get_string(key, fallback);
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return v;
    list += std::string(list.empty() ? "" : ", ") + a;
  }
  throw_error("metadata key '", key, "' is '", v, "', expected one of: ", list);
}

// model.labels: non-empty, no empty or duplicate names (after synonyms: "happy" and
// "Happiness" are one label), and for the known tasks only names of that task.
inline std::vector<std::string> labels(const Metadata& m, const std::string& task) {
  const std::vector<std::string>& v = m.get_strings("model.labels");
  MIEN_CHECK(!v.empty(), "metadata key 'model.labels' is empty");
  std::set<std::string> seen;
  for (const std::string& l : v) {
    MIEN_CHECK(!l.empty(), "metadata key 'model.labels' holds an empty label");
    MIEN_CHECK(seen.insert(canonical_label(l)).second, "metadata key 'model.labels' holds '", l,
               "' twice");
  }
  std::vector<std::string> known;
  if (task == "emotion") {
    known = fer_labels();
    known.push_back("contempt");  // FER+ has an eighth class
  } else if (task == "gender") {
    known = {"woman", "man"};
  } else if (task == "age") {
    // A regression: one output value, the age in years (FaceClassifier's "labels" are its
    // output channels).
    MIEN_CHECK(v.size() == 1 && canonical_label(v[0]) == "age",
               "metadata key 'model.labels' of an age model must be [\"age\"]");
  }
  if (!known.empty())
    for (const std::string& l : v)
      MIEN_CHECK(label_index(known, l) >= 0, "metadata key 'model.labels' holds '", l,
                 "', which is not a ", task, " label");
  return v;
}

}  // namespace mien::meta

namespace mien {

// Throws (naming the file) when a model declares a model.task other than `task`, e.g. a
// gender model given as the emotion model. Models without model.task are accepted.
inline void require_task(const Model& model, const std::string& task, const std::string& role) {
  const std::string t = model.metadata().get_string("model.task", "");
  if (t.empty() || t == task) return;
  Error e("this is a '" + t + "' model (model.task), not " + role + " (" + task + ")");
  e.set_file(model.origin());
  throw e;
}

// The keys a FaceClassifier reads: not a detector, model.labels (see meta::labels),
// crop.scale in (0.1, 10], crop.shift_y in [-2, 2], all finite.
inline void check_classifier_metadata(const Model& model) {
  const Metadata& m = model.metadata();
  const std::string task = m.get_string("model.task", "");
  MIEN_CHECK(task != "face_detector", "this is a face detector (model.task), not a classifier");
  meta::labels(m, task);
  meta::number(m, "crop.scale", 1.0, 0.1, 10, true);
  meta::number(m, "crop.shift_y", 0.0, -2, 2);
}

// Checks each model of a PipelineModels against its role (--gender emotion.mien used to
// print a gender of "neutral"); returns `models` for use in a member initializer.
template <typename Models>
const Models& require_roles(const Models& models) {
  if (models.detector.loaded()) require_task(models.detector, "face_detector", "a face detector");
  for (const Model& m : models.emotion) require_task(m, "emotion", "an emotion model");
  if (models.gender.loaded()) require_task(models.gender, "gender", "a gender model");
  if (models.age.loaded()) require_task(models.age, "age", "an age model");
  return models;
}

}  // namespace mien
