// Evaluation of a Pipeline's emotion model(s) on a labelled dataset (eval/readers.hpp):
// every sample classified (face crops whole, photos through the detector) on mien's
// thread pool, then scored into a confusion matrix (eval/metrics.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/thread_pool.hpp"
#include "mien/eval/metrics.hpp"
#include "mien/eval/readers.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/labels.hpp"
#include "mien/vision/pipeline.hpp"

namespace mien {

// Which images are classified whole, as face crops, instead of going through the detector.
enum class CropsMode {
  Dataset,  // All for formats that are crops by definition (FER-2013 CSV, FER+), else Off
  Off,      // none: every image goes through the detector
  Auto,     // images no larger than EvalOptions::crop_max_side a side
  All,      // every image (a folder of FER-2013 PNGs, other pre-cropped sets)
};

inline CropsMode parse_crops_mode(const std::string& s) {
  if (s == "dataset") return CropsMode::Dataset;
  if (s == "off") return CropsMode::Off;
  if (s == "auto") return CropsMode::Auto;
  if (s == "all") return CropsMode::All;
  throw Error("unknown crops mode '" + s + "' (expected all, auto, off or dataset)");
}

struct EvalOptions {
  PipelineOptions pipeline;  // detection threshold, flip TTA (threads: see `threads`)
  CropsMode crops = CropsMode::Dataset;
  int crop_max_side = 96;  // CropsMode::Auto: images no larger than this are face crops
  int threads = 1;
  int batch = 64;  // crops per classifier run
};

enum class SampleStatus { Ok, Unreadable, NoFace, LabelNotPredicted };

struct SampleResult {
  SampleStatus status = SampleStatus::LabelNotPredicted;
  int truth = -1, predicted = -1;  // indices into EvalResult::labels
  bool detected = false;           // the face came from the detector (not a crop)
  Probabilities scores;            // in EvalResult::labels order
  std::string error;               // why an image was unreadable
};

struct EvalResult {
  // The model's labels, FER-2013 classes first in FER order (so that reports of different
  // models line up), then any others.
  std::vector<std::string> labels;
  ConfusionMatrix confusion;
  std::vector<SampleResult> samples;  // one per Dataset::samples entry
  int64_t unreadable = 0, no_face = 0, detected = 0;
  // Dataset labels the model cannot predict, with their counts (left out of the metrics).
  std::vector<std::pair<std::string, int64_t>> unpredictable;

  // Every image with a label the model predicts, whether classified, faceless or unreadable.
  int64_t attempted() const { return confusion.total() + no_face + unreadable; }
  // The headline accuracy: an image without a detected face or that could not be read
  // counts as wrong (a user of the pipeline gets no answer for it). The confusion
  // matrix's accuracy() is the same over the classified images only.
  double accuracy_all() const {
    return attempted() > 0 ? double(confusion.correct()) / double(attempted()) : 0.0;
  }
};

// Classifies every sample and scores it. Crops (EvalOptions::crops) go through the emotion
// model(s) `batch` at a time; other images through the detector, keeping the largest face. Chunks
// of samples are shared out to `threads` threads of mien's pool. Unreadable images and
// images without a face are counted, not fatal, unless no image could be read at all. `progress`
// (optional) is called with (done, total) after each chunk, from one thread at a time.
inline EvalResult evaluate(const Pipeline& pipeline, const Dataset& ds, const EvalOptions& opt,
                           const std::function<void(std::size_t, std::size_t)>& progress = {}) {
  EvalResult r;
  const std::vector<std::string>& model_labels = pipeline.emotion_labels();
  for (const std::string& l : fer_labels())
    if (label_index(model_labels, l) >= 0) r.labels.push_back(l);
  for (const std::string& l : model_labels)
    if (label_index(r.labels, l) < 0) r.labels.push_back(l);
  std::vector<int> to_report(model_labels.size());  // pipeline index -> r.labels index
  for (std::size_t i = 0; i < model_labels.size(); ++i)
    to_report[i] = label_index(r.labels, model_labels[i]);
  r.confusion = ConfusionMatrix(r.labels);
  const std::size_t n = ds.samples.size();
  r.samples.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    r.samples[i].truth = label_index(r.labels, ds.samples[i].label);

  const std::size_t batch = std::size_t(std::max(1, opt.batch));
  const std::size_t chunks = (n + batch - 1) / batch;
  const int workers =
      int(std::max<std::size_t>(1, std::min<std::size_t>(std::max(1, opt.threads), chunks)));
  // Leftover threads (fewer chunks than threads) go to the layers inside each run.
  const int inner = std::max(1, std::max(1, opt.threads) / workers);
  const CropsMode crops_mode = opt.crops != CropsMode::Dataset ? opt.crops
                               : ds.face_crops                 ? CropsMode::All
                                                               : CropsMode::Off;
  PipelineOptions popt = opt.pipeline;
  popt.gender = false;
  popt.age = false;  // neither gender nor age is evaluated
  popt.detect.threads = inner;

  auto to_scores = [&](const Probabilities& p) {
    Probabilities out(r.labels.size(), 0.f);
    for (std::size_t j = 0; j < p.size(); ++j) out[std::size_t(to_report[j])] = p[j];
    return out;
  };
  std::mutex mutex;
  std::size_t done = 0;  // samples finished, under `mutex`
  auto tick = [&](std::size_t& k) {
    if (k == 0) return;
    std::lock_guard<std::mutex> lock(mutex);
    done += k;
    k = 0;
    if (progress) progress(done, n);
  };
  auto run_chunk = [&](std::size_t c) {
    const std::size_t begin = c * batch, end = std::min(n, begin + batch);
    // Photos take a detector run each, so they are reported one by one (a progress bar
    // keeps moving on a folder of photos); crops when their batch is done.
    std::size_t finished = 0;
    std::vector<Image> crops;
    std::vector<std::size_t> crop_index;
    crops.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) {
      SampleResult& s = r.samples[i];
      if (s.truth < 0) {  // nothing to compare a prediction with: skip the work
        ++finished;
        continue;
      }
      Image img;
      try {
        img = load_labelled_image(ds.samples[i]);
      } catch (const Error& e) {
        s.status = SampleStatus::Unreadable;
        s.error = e.what();
        ++finished;
        continue;
      }
      if (crops_mode == CropsMode::All ||
          (crops_mode == CropsMode::Auto && std::max(img.width, img.height) <= opt.crop_max_side)) {
        crops.push_back(std::move(img));
        crop_index.push_back(i);
        continue;
      }
      s.detected = true;
      ++finished;
      std::vector<FaceResult> faces;
      try {
        faces = pipeline.analyze(img, popt);
      } catch (const Error& e) {  // e.g. a photo too large to letterbox: that image only
        s.status = SampleStatus::Unreadable;
        s.error = ds.samples[i].name + ": " + e.what();
        continue;
      }
      if (faces.empty()) {
        s.status = SampleStatus::NoFace;
      } else {
        const auto largest = std::max_element(faces.begin(), faces.end(),
                                              [](const FaceResult& a, const FaceResult& b) {
                                                return box_area(a.face) < box_area(b.face);
                                              });
        s.scores = to_scores(largest->emotion_scores);
        s.status = SampleStatus::Ok;
      }
      tick(finished);
    }
    if (!crops.empty()) {
      std::vector<const Image*> ptrs;
      for (const Image& im : crops) ptrs.push_back(&im);
      const std::vector<Probabilities> p = pipeline.classify_crops(ptrs, popt.flip_tta, inner);
      for (std::size_t k = 0; k < crop_index.size(); ++k) {
        SampleResult& s = r.samples[crop_index[k]];
        s.scores = to_scores(p[k]);
        s.status = SampleStatus::Ok;
      }
      finished += crops.size();
    }
    tick(finished);
  };

  // Chunks go to the threads of mien's pool (each takes the next chunk when done); the
  // first failure stops the others from starting new chunks.
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  run_tasks(int64_t(chunks), workers, [&](int64_t c) {
    if (failed) return;
    try {
      run_chunk(std::size_t(c));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  });
  if (error) std::rethrow_exception(error);

  int64_t attempted = 0;
  const SampleResult* first_unreadable = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    SampleResult& s = r.samples[i];
    if (s.truth < 0) {
      const std::string& l = ds.samples[i].label;
      auto it = std::find_if(r.unpredictable.begin(), r.unpredictable.end(),
                             [&](const auto& p) { return p.first == l; });
      if (it == r.unpredictable.end())
        r.unpredictable.push_back({l, 1});
      else
        ++it->second;
      continue;
    }
    ++attempted;
    if (s.detected) ++r.detected;
    if (s.status == SampleStatus::Unreadable) {
      ++r.unreadable;
      if (!first_unreadable) first_unreadable = &s;
    } else if (s.status == SampleStatus::NoFace) {
      ++r.no_face;
    } else {
      s.predicted = argmax(s.scores);
      r.confusion.add(s.truth, s.predicted);
    }
  }
  if (attempted == 0) {
    std::vector<std::string> names;
    for (const auto& u : r.unpredictable) names.push_back(u.first);
    throw Error(ds.path + ": no image has a label the model predicts (dataset labels: " +
                detail::join(names) + "; model labels: " + detail::join(r.labels) + ")");
  }
  if (r.unreadable == attempted)
    throw Error(ds.path + ": none of the " + std::to_string(attempted) +
                " images could be read; the first: " + first_unreadable->error);
  return r;
}

}  // namespace mien
