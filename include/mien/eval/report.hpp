// An evaluation's results as files: the JSON summary (`mien eval --json`) and the
// per-image predictions as CSV (`mien eval --predictions`).
#pragma once

#include <cstdio>
#include <fstream>
#include <string>

#include "mien/eval/evaluate.hpp"
#include "mien/io/csv.hpp"
#include "mien/io/json.hpp"

namespace mien {

inline const char* status_name(SampleStatus s) {
  switch (s) {
    case SampleStatus::Ok:
      return "ok";
    case SampleStatus::Unreadable:
      return "unreadable";
    case SampleStatus::NoFace:
      return "no_face";
    default:
      return "label_not_predicted";
  }
}

// {"dataset","format","model","tta","images","attempted","evaluated","correct","accuracy",
//  "accuracy_evaluated","macro_f1","macro_precision","macro_recall","detected","left_out",
//  "labels","per_class","confusion","seconds"}: `model` names the model(s), `seconds` the
// time the evaluation took.
inline Json eval_json(const Dataset& ds, const EvalResult& r, const std::string& model, bool tta,
                      double seconds) {
  const ConfusionMatrix& cm = r.confusion;
  Json j;
  j["dataset"] = ds.path;
  j["format"] = ds.format;
  j["model"] = model;
  j["tta"] = tta;
  j["images"] = int64_t(ds.samples.size()) + ds.skipped_total();
  j["attempted"] = r.attempted();
  j["evaluated"] = cm.total();
  j["correct"] = cm.correct();
  j["accuracy"] = json_number(r.accuracy_all());
  j["accuracy_evaluated"] = json_number(cm.accuracy());
  j["macro_f1"] = json_number(cm.macro_f1());
  j["macro_precision"] = json_number(cm.macro_precision());
  j["macro_recall"] = json_number(cm.macro_recall());
  j["detected"] = r.detected;
  Json left_out;
  left_out["unreadable"] = r.unreadable;
  left_out["no_face"] = r.no_face;
  left_out["labels_not_predicted"] = Json::object();
  for (const auto& u : r.unpredictable) left_out["labels_not_predicted"][u.first] = u.second;
  left_out["while_reading"] = Json::object();
  for (const auto& s : ds.skipped) left_out["while_reading"][s.first] = s.second;
  j["left_out"] = std::move(left_out);
  j["labels"] = cm.labels();
  j["per_class"] = Json::object();
  for (int k = 0; k < cm.size(); ++k) {
    Json c;
    c["precision"] = json_number(cm.precision(k));
    c["recall"] = json_number(cm.recall(k));
    c["f1"] = json_number(cm.f1(k));
    c["support"] = cm.true_count(k);
    c["predicted"] = cm.predicted_count(k);
    j["per_class"][cm.labels()[std::size_t(k)]] = std::move(c);
  }
  j["confusion"] = Json::array();
  for (int t = 0; t < cm.size(); ++t) {
    Json row = Json::array();
    for (int p = 0; p < cm.size(); ++p) row.push_back(cm.at(t, p));
    j["confusion"].push_back(std::move(row));
  }
  j["seconds"] = json_number(seconds, 4);
  return j;
}

// Every sample: image,label,predicted,status and one score per label (%.5f), so that
// errors can be looked at.
inline void write_predictions(const std::string& path, const Dataset& ds, const EvalResult& r) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot create the file");
  out << "image,label,predicted,status";
  for (const std::string& l : r.labels) out << ',' << csv_field(l);
  out << '\n';
  char buf[32];
  for (std::size_t i = 0; i < ds.samples.size(); ++i) {
    const SampleResult& s = r.samples[i];
    out << csv_field(ds.samples[i].name) << ',' << csv_field(ds.samples[i].label) << ','
        << (s.predicted >= 0 ? csv_field(r.labels[std::size_t(s.predicted)]) : "") << ','
        << status_name(s.status);
    for (std::size_t k = 0; k < r.labels.size(); ++k) {
      buf[0] = 0;
      if (k < s.scores.size()) std::snprintf(buf, sizeof buf, "%.5f", double(s.scores[k]));
      out << ',' << buf;
    }
    out << '\n';
  }
  out.flush();
  if (!out) throw Error(path + ": cannot write the file");
}

}  // namespace mien
