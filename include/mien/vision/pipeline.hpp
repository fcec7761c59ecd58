// The face-emotion pipeline: detect every face, crop it as each classifier expects, and
// classify emotion (one model, or an ensemble averaged in the FER label order) and gender.
// Detection parallelises inside its layers (one large input); classification spreads the
// faces and models across threads (small inputs, many of them), with results independent
// of the thread count. Thread-safe: one Pipeline can serve many threads (each call leases
// its own Sessions).
//
//   mien::Pipeline pipeline = mien::Pipeline::with_default_models();
//   for (const auto& face : pipeline.analyze(mien::load_image("photo.jpg")))
//     std::printf("%s\n", pipeline.emotion_labels()[face.emotion].c_str());
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mien/vision/classifier.hpp"
#include "mien/vision/detector.hpp"
#include "mien/vision/embedded_models.hpp"
#include "mien/vision/labels.hpp"
#include "mien/vision/model_checks.hpp"

namespace mien {

struct PipelineOptions {
  DetectOptions detect;   // threshold, min_face, tiling, threads
  bool gender = true;     // run the gender model (when the pipeline has one)
  bool flip_tta = false;  // average each classifier over the face and its mirror image
};

struct FaceResult {
  Detection face;
  int emotion = -1;              // index into Pipeline::emotion_labels()
  Probabilities emotion_scores;  // in Pipeline::emotion_labels() order
  int gender = -1;               // index into Pipeline::gender_labels(), -1 if not run
  float gender_score = 0.f;      // probability of that gender label
};

struct PipelineModels {
  Model detector;
  std::vector<Model> emotion;  // one, or several for an ensemble
  Model gender;                // optional (not loaded = no gender)
};

class Pipeline {
 public:
  explicit Pipeline(const PipelineModels& models)
      : detector_(std::make_shared<FaceDetector>(require_roles(models).detector)) {
    MIEN_CHECK(!models.emotion.empty(), "the pipeline needs at least one emotion model");
    for (const Model& m : models.emotion) {
      auto c = std::make_shared<FaceClassifier>(m);
      // The first model's labels (canonicalised) are the pipeline's order; the others are
      // mapped onto them by name.
      if (emotion_labels_.empty())
        for (const std::string& l : c->labels()) emotion_labels_.push_back(canonical_label(l));
      std::vector<int> map;
      for (const std::string& l : c->labels()) {
        const int i = label_index(emotion_labels_, l);
        if (i < 0) {
          Error e("emotion label '" + l + "' is not among the first emotion model's labels");
          e.set_file(m.origin());
          throw e;
        }
        map.push_back(i);
      }
      emotion_.push_back({c, map});
    }
    if (models.gender.loaded()) {
      gender_ = std::make_shared<FaceClassifier>(models.gender);
      for (const std::string& l : gender_->labels()) gender_labels_.push_back(canonical_label(l));
    }
  }

  // Default models: compiled into the program (MIEN_EMBED_WEIGHTS_DIR), else loaded from
  // the folder `weights_dir` (blazeface.mien, emotion.mien, gender.mien).
  static PipelineModels default_models(const std::string& weights_dir = "") {
    PipelineModels m;
    auto load = [&](const char* name) {
      if (weights_dir.empty()) {
        const EmbeddedModel e = embedded_model(name);
        if (!e.available())
          throw Error(std::string("default model '") + name +
                      "' is not compiled into this program; pass model files or define "
                      "MIEN_EMBED_WEIGHTS_DIR");
        return Model::from_memory(e.data, e.size, std::string("<built-in ") + name + ">");
      }
      return Model::load(weights_dir + "/" + name + ".mien");
    };
    m.detector = load("blazeface");
    m.emotion.push_back(load("emotion"));
    m.gender = load("gender");
    return m;
  }
  static Pipeline with_default_models() { return Pipeline(default_models()); }

  const std::vector<std::string>& emotion_labels() const { return emotion_labels_; }
  const std::vector<std::string>& gender_labels() const { return gender_labels_; }
  bool has_gender() const { return gender_ != nullptr; }
  const FaceDetector& detector() const { return *detector_; }
  std::size_t emotion_models() const { return emotion_.size(); }

  std::vector<FaceResult> analyze(const Image& img, const PipelineOptions& opt = {}) const {
    std::vector<Detection> faces = detector_->detect(img, opt.detect);
    return classify(img, std::move(faces), opt);
  }

  // Classify given face boxes (skips detection). With threads > 1, the (face, model) pairs
  // are spread across threads (models.emotion and gender run concurrently); each pair runs
  // alone, so the results are bit-identical for every thread count.
  std::vector<FaceResult> classify(const Image& img, std::vector<Detection> faces,
                                   const PipelineOptions& opt = {}) const {
    std::vector<FaceResult> results(faces.size());
    if (faces.empty()) return results;
    const bool gender = gender_ && opt.gender;
    const std::vector<Probabilities> emotions =
        scores(faces.size(), gender, opt.detect.threads,
               [&](const FaceClassifier& c, std::size_t i, float* out) {
                 c.classify_face(img, faces[i], opt.flip_tta, opt.detect.threads, out);
               });
    for (std::size_t i = 0; i < faces.size(); ++i) {
      results[i].emotion_scores.assign(
          emotions[i].begin(), emotions[i].begin() + std::ptrdiff_t(emotion_labels_.size()));
      results[i].emotion = argmax(results[i].emotion_scores);
      if (gender) {
        const Probabilities g(emotions[i].begin() + std::ptrdiff_t(emotion_labels_.size()),
                              emotions[i].end());
        results[i].gender = argmax(g);
        results[i].gender_score = g[std::size_t(results[i].gender)];
      }
      results[i].face = std::move(faces[i]);
    }
    return results;
  }

  // Emotion of images that are already face crops (datasets such as FER-2013).
  std::vector<Probabilities> classify_crops(const std::vector<const Image*>& crops,
                                            bool flip_tta = false, int threads = 1) const {
    return scores(crops.size(), false, threads,
                  [&](const FaceClassifier& c, std::size_t i, float* out) {
                    c.classify_crop(*crops[i], flip_tta, threads, out);
                  });
  }

 private:
  struct EmotionModel {
    std::shared_ptr<FaceClassifier> classifier;
    std::vector<int> to_pipeline;  // model label index -> pipeline label index
  };

  // Runs every emotion model (and the gender model when `gender`) on n faces through
  // run(classifier, face, out), as n x models tasks spread over `threads`. Returns per
  // face the emotion models' average in the pipeline's label order, followed by the gender
  // probabilities when `gender`.
  template <typename Run>
  std::vector<Probabilities> scores(std::size_t n, bool gender, int threads, Run&& run) const {
    // Per model, n rows of its label count; emotion models first, the costliest tasks.
    std::vector<const FaceClassifier*> models;
    std::vector<std::size_t> offset{0};
    for (const EmotionModel& m : emotion_) models.push_back(m.classifier.get());
    if (gender) models.push_back(gender_.get());
    for (const FaceClassifier* c : models) offset.push_back(offset.back() + n * c->labels().size());
    std::vector<float> raw(offset.back());
    FaceClassifier::for_each_task(int64_t(n * models.size()), threads, [&](int64_t t) {
      const std::size_t m = std::size_t(t) / n, i = std::size_t(t) % n;
      run(*models[m], i, raw.data() + offset[m] + i * models[m]->labels().size());
    });
    const std::size_t labels = emotion_labels_.size();
    std::vector<Probabilities> out(n, Probabilities(labels + (gender ? gender_labels_.size() : 0)));
    for (std::size_t m = 0; m < emotion_.size(); ++m) {
      const std::size_t k = models[m]->labels().size();
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < k; ++j)
          out[i][std::size_t(emotion_[m].to_pipeline[j])] +=
              raw[offset[m] + i * k + j] / float(emotion_.size());
    }
    if (gender) {
      const std::size_t m = emotion_.size(), k = gender_labels_.size();
      for (std::size_t i = 0; i < n; ++i)
        std::copy_n(raw.data() + offset[m] + i * k, k, out[i].data() + labels);
    }
    return out;
  }

  std::shared_ptr<FaceDetector> detector_;
  std::vector<EmotionModel> emotion_;
  std::shared_ptr<FaceClassifier> gender_;
  std::vector<std::string> emotion_labels_, gender_labels_;
};

}  // namespace mien
