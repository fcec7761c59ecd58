// The face-emotion pipeline: detect every face, crop it as each classifier expects, and
// classify emotion (one model, or an ensemble averaged in the FER label order), gender and
// age.
// Detection parallelises inside its layers (one large input); classification spreads the
// faces and models across threads (small inputs, many of them), with results independent
// of the thread count. Thread-safe: one Pipeline can serve many threads (each call leases
// its own Sessions).
//
//   mien::Pipeline pipeline = mien::Pipeline::with_default_models();
//   for (const auto& face : pipeline.analyze(mien::load_image("photo.jpg")))
//     std::printf("%s\n", pipeline.emotion_labels()[face.emotion].c_str());
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mien/core/api.hpp"
#include "mien/vision/classifier.hpp"
#include "mien/vision/detector.hpp"
#include "mien/vision/embedded_models.hpp"
#include "mien/vision/labels.hpp"
#include "mien/vision/model_checks.hpp"

namespace mien {

struct PipelineOptions {
  DetectOptions detect;   // threshold, min_face, tiling, threads
  bool gender = true;     // run the gender model (when the pipeline has one)
  bool age = true;        // run the age model (when the pipeline has one)
  bool flip_tta = false;  // average every classifier over the face and its mirror image
                          // (on top of the per-model PipelineModels::emotion_flip)
};

struct FaceResult {
  Detection face;
  int emotion = -1;              // index into Pipeline::emotion_labels()
  Probabilities emotion_scores;  // in Pipeline::emotion_labels() order
  int gender = -1;               // index into Pipeline::gender_labels(), -1 if not run
  float gender_score = 0.f;      // probability of that gender label
  float age = -1.f;              // estimated age in years, < 0 if not run
};

struct PipelineModels {
  Model detector;
  std::vector<Model> emotion;  // one, or several for an ensemble
  Model gender;                // optional (not loaded = no gender)
  Model age{};                 // optional (not loaded = no age): model.task "age", years; {}: a
                               // PipelineModels{detector, {emotion}, gender} stays warning-free
  // Per emotion model: its weight in the ensemble's average of probabilities (empty =
  // equal weights; normalised to sum 1), and whether it also reads the mirrored face
  // (test-time augmentation; empty = none).
  std::vector<float> emotion_weights{};
  std::vector<bool> emotion_flip{};
  // A model with emotion_flip reads the mirror image only for the faces whose ensemble
  // (without the mirror) has its top two probabilities closer than this: the unsure ones,
  // where a second look pays. >= 1: for every face.
  float mirror_margin = 1.f;
};

// The default ensemble, chosen on wild-dev (weights/README.md, "Default ensemble"):
// face-api's FaceExpressionNet, which reads wild photos best, plus the big-XCEPTION, which
// is strongest on FER-2013-like crops; probabilities averaged 0.65 / 0.35 in the
// big-XCEPTION's (FER) label order. FaceExpressionNet also reads the mirror image of the
// faces the two are unsure about (top two within 0.4: about a third of wild-dev's faces),
// which gives the whole gain of mirroring every face at a third of its cost.
struct DefaultEnsemble {
  static constexpr float xception_weight = 0.35f, expression_weight = 0.65f;
  static constexpr float mirror_margin = 0.4f;
};

class Pipeline {
 public:
  explicit Pipeline(const PipelineModels& models);

  static PipelineModels default_models(const std::string& weights_dir = "", bool fast = false);
  // The default set and ensemble over any way of loading a model by name ("blazeface",
  // "emotion", "face_expression", "gender", "age"): e.g. with ModelOptions of your own.
  static PipelineModels default_models(const std::function<Model(const char* name)>& load,
                                       bool fast = false);
  static Pipeline with_default_models(bool fast = false) {
    return Pipeline(default_models("", fast));
  }

  const std::vector<std::string>& emotion_labels() const { return emotion_labels_; }
  const std::vector<std::string>& gender_labels() const { return gender_labels_; }
  bool has_gender() const { return gender_ != nullptr; }
  bool has_age() const { return age_ != nullptr; }
  const FaceDetector& detector() const { return *detector_; }
  std::size_t emotion_models() const { return emotion_.size(); }
  float emotion_weight(std::size_t i) const { return emotion_.at(i).weight; }
  bool emotion_flip(std::size_t i) const { return emotion_.at(i).flip; }
  float mirror_margin() const { return mirror_margin_; }

  std::vector<FaceResult> analyze(const Image& img, const PipelineOptions& opt = {}) const;

  // Classify given face boxes (skips detection). With threads > 1, the (face, model) pairs
  // are spread across threads (models.emotion, age and gender run concurrently); each pair runs
  // alone, so the results are bit-identical for every thread count.
  std::vector<FaceResult> classify(const Image& img, std::vector<Detection> faces,
                                   const PipelineOptions& opt = {}) const;

  // Emotion of images that are already face crops (datasets such as FER-2013).
  std::vector<Probabilities> classify_crops(const std::vector<const Image*>& crops,
                                            bool flip_tta = false, int threads = 1) const;

 private:
  struct EmotionModel {
    std::shared_ptr<FaceClassifier> classifier;
    std::vector<int> to_pipeline;  // model label index -> pipeline label index
    float weight = 1.f;            // in the ensemble average (the weights sum to 1)
    bool flip = false;             // also reads the mirrored face
  };

  // Runs every emotion model (and the age model when `age`, the gender model when `gender`)
  // on n faces through run(classifier, view, face, out), as n x models tasks spread over
  // `threads`. Returns per face the emotion models' weighted average in the pipeline's label
  // order, followed by the gender probabilities when `gender`, then the age (years) when
  // `age`. `tta`: every model reads face and mirror.
  // Otherwise a model with `flip` reads the mirror too: for every face when mirror_margin_
  // >= 1, else in a second round only for the faces whose first-round ensemble is unsure
  // (its top two probabilities closer than mirror_margin_).
  template <typename Run>
  std::vector<Probabilities> scores(std::size_t n, bool gender, bool age, bool tta, int threads,
                                    Run&& run) const {
    // Per model, n rows of its label count; emotion models first, the costliest tasks.
    std::vector<const FaceClassifier*> models;
    std::vector<FaceView> views;
    std::vector<std::size_t> offset{0};
    const bool adaptive = !tta && mirror_margin_ < 1.f;
    for (const EmotionModel& m : emotion_) {
      models.push_back(m.classifier.get());
      views.push_back(tta || (m.flip && !adaptive) ? FaceView::Both : FaceView::Plain);
    }
    // Age before gender: its 112x112 TinyXception costs more than the 64x64 mini-XCEPTION,
    // and the costly tasks go first (for_each_task).
    const std::size_t age_model = models.size();
    if (age) {
      models.push_back(age_.get());
      views.push_back(view_of(tta));
    }
    const std::size_t gender_model = models.size();
    if (gender) {
      models.push_back(gender_.get());
      views.push_back(view_of(tta));
    }
    for (const FaceClassifier* c : models) offset.push_back(offset.back() + n * c->labels().size());
    std::vector<float> raw(offset.back());
    FaceClassifier::for_each_task(int64_t(n * models.size()), threads, [&](int64_t t) {
      const std::size_t m = std::size_t(t) / n, i = std::size_t(t) % n;
      run(*models[m], views[m], i, raw.data() + offset[m] + i * models[m]->labels().size());
    });
    const std::size_t labels = emotion_labels_.size();
    const std::size_t genders = gender ? gender_labels_.size() : 0;
    std::vector<Probabilities> out(n, Probabilities(labels + genders + (age ? 1 : 0)));
    auto average = [&](std::size_t i) {
      std::fill_n(out[i].begin(), labels, 0.f);
      for (std::size_t m = 0; m < emotion_.size(); ++m) {
        const std::size_t k = models[m]->labels().size();
        for (std::size_t j = 0; j < k; ++j)
          out[i][std::size_t(emotion_[m].to_pipeline[j])] +=
              raw[offset[m] + i * k + j] * emotion_[m].weight;
      }
    };
    for (std::size_t i = 0; i < n; ++i) average(i);
    if (adaptive) {
      // Second round: the mirror image for unsure faces, averaged into the model's output.
      std::vector<std::pair<std::size_t, std::size_t>> todo;  // (model, face)
      for (std::size_t i = 0; i < n; ++i) {
        if (top_margin(out[i].data(), labels) >= mirror_margin_) continue;
        for (std::size_t m = 0; m < emotion_.size(); ++m)
          if (emotion_[m].flip) todo.push_back({m, i});
      }
      std::vector<Probabilities> mirrored(todo.size());
      FaceClassifier::for_each_task(int64_t(todo.size()), threads, [&](int64_t t) {
        const auto [m, i] = todo[std::size_t(t)];
        mirrored[std::size_t(t)].resize(models[m]->labels().size());
        run(*models[m], FaceView::Mirror, i, mirrored[std::size_t(t)].data());
      });
      for (std::size_t t = 0; t < todo.size(); ++t) {
        const auto [m, i] = todo[t];
        const std::size_t k = models[m]->labels().size();
        float* r = raw.data() + offset[m] + i * k;
        for (std::size_t j = 0; j < k; ++j) r[j] = 0.5f * (r[j] + mirrored[t][j]);
        average(i);
      }
    }
    if (gender)
      for (std::size_t i = 0; i < n; ++i)
        std::copy_n(raw.data() + offset[gender_model] + i * genders, genders,
                    out[i].data() + labels);
    if (age)
      for (std::size_t i = 0; i < n; ++i) out[i][labels + genders] = raw[offset[age_model] + i];
    return out;
  }

  // The gap between the two largest of p[0..n).
  static float top_margin(const float* p, std::size_t n) {
    float a = -1.f, b = -1.f;
    for (std::size_t j = 0; j < n; ++j) {
      if (p[j] > a) {
        b = a;
        a = p[j];
      } else if (p[j] > b) {
        b = p[j];
      }
    }
    return n < 2 ? 1.f : a - b;
  }

  std::shared_ptr<FaceDetector> detector_;
  std::vector<EmotionModel> emotion_;
  std::shared_ptr<FaceClassifier> gender_;
  std::shared_ptr<FaceClassifier> age_;
  std::vector<std::string> emotion_labels_, gender_labels_;
  float mirror_margin_ = 1.f;
};

#if MIEN_API_BODIES

MIEN_API Pipeline::Pipeline(const PipelineModels& models)
    : detector_(std::make_shared<FaceDetector>(require_roles(models).detector)) {
  MIEN_CHECK(!models.emotion.empty(), "the pipeline needs at least one emotion model");
  const std::size_t n = models.emotion.size();
  MIEN_CHECK(models.emotion_weights.empty() || models.emotion_weights.size() == n, "got ",
             models.emotion_weights.size(), " ensemble weights for ", n, " emotion models");
  MIEN_CHECK(models.emotion_flip.empty() || models.emotion_flip.size() == n, "got ",
             models.emotion_flip.size(), " flip settings for ", n, " emotion models");
  float total = 0.f;
  for (std::size_t i = 0; i < n; ++i) {
    const float w = models.emotion_weights.empty() ? 1.f : models.emotion_weights[i];
    MIEN_CHECK(std::isfinite(w) && w >= 0.f, "ensemble weight ", w, " is not >= 0");
    total += w;
  }
  MIEN_CHECK(total > 0.f, "the ensemble weights add up to 0");
  for (std::size_t mi = 0; mi < n; ++mi) {
    const Model& m = models.emotion[mi];
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
    const float w = models.emotion_weights.empty() ? 1.f : models.emotion_weights[mi];
    const bool flip = !models.emotion_flip.empty() && models.emotion_flip[mi];
    emotion_.push_back({c, map, w / total, flip});
  }
  MIEN_CHECK(models.mirror_margin >= 0.f && models.mirror_margin <= 1.f, "mirror margin ",
             models.mirror_margin, " is outside 0..1");
  mirror_margin_ = models.mirror_margin;
  if (models.gender.loaded()) {
    gender_ = std::make_shared<FaceClassifier>(models.gender);
    for (const std::string& l : gender_->labels()) gender_labels_.push_back(canonical_label(l));
  }
  if (models.age.loaded()) {
    age_ = std::make_shared<FaceClassifier>(models.age);
    // require_roles accepts a file without model.task; the age slot reads one number.
    if (age_->labels().size() != 1 || age_->task() != "age") {
      Error e("an age model needs model.task \"age\" and one output value (years)");
      e.set_file(models.age.origin());
      throw e;
    }
  }
}

// Default models: compiled into the program (MIEN_EMBED_WEIGHTS_DIR), else loaded from
// the folder `weights_dir` (blazeface.mien, emotion.mien, face_expression.mien,
// gender.mien, age.mien). The default is the ensemble of DefaultEnsemble; `fast` keeps the single
// big-XCEPTION (about 2x less work per face, and FER-2013 results identical to TF.js).

MIEN_API PipelineModels Pipeline::default_models(const std::string& weights_dir, bool fast) {
  return default_models(
      [&](const char* name) {
        if (weights_dir.empty()) {
          const EmbeddedModel e = embedded_model(name);
          if (!e.available())
            throw Error(std::string("default model '") + name +
                        "' is not compiled into this program; pass model files, or compile "
                        "the models in: mien_embed_default_models(target) in CMake (also from "
                        "an installed package), or MIEN_EMBED_WEIGHTS_DIR defined in one "
                        "source file");
          return Model::from_memory(e.data, e.size, std::string("<built-in ") + name + ">");
        }
        return Model::load(weights_dir + "/" + name + ".mien");
      },
      fast);
}

MIEN_API PipelineModels Pipeline::default_models(const std::function<Model(const char* name)>& load,
                                                 bool fast) {
  PipelineModels m;
  m.detector = load("blazeface");
  m.emotion.push_back(load("emotion"));
  if (!fast) {
    m.emotion.push_back(load("face_expression"));
    m.emotion_weights = {DefaultEnsemble::xception_weight, DefaultEnsemble::expression_weight};
    m.emotion_flip = {false, true};
    m.mirror_margin = DefaultEnsemble::mirror_margin;
  }
  m.gender = load("gender");
  m.age = load("age");
  return m;
}

MIEN_API std::vector<FaceResult> Pipeline::analyze(const Image& img,
                                                   const PipelineOptions& opt) const {
  std::vector<Detection> faces = detector_->detect(img, opt.detect);
  return classify(img, std::move(faces), opt);
}

MIEN_API std::vector<FaceResult> Pipeline::classify(const Image& img, std::vector<Detection> faces,
                                                    const PipelineOptions& opt) const {
  std::vector<FaceResult> results(faces.size());
  if (faces.empty()) return results;
  const bool gender = gender_ && opt.gender;
  const bool age = age_ && opt.age;
  const std::vector<Probabilities> emotions =
      scores(faces.size(), gender, age, opt.flip_tta, opt.detect.threads,
             [&](const FaceClassifier& c, FaceView view, std::size_t i, float* out) {
               c.classify_face(img, faces[i], view, opt.detect.threads, out);
             });
  for (std::size_t i = 0; i < faces.size(); ++i) {
    results[i].emotion_scores.assign(emotions[i].begin(),
                                     emotions[i].begin() + std::ptrdiff_t(emotion_labels_.size()));
    results[i].emotion = argmax(results[i].emotion_scores);
    const auto tail = emotions[i].begin() + std::ptrdiff_t(emotion_labels_.size());
    if (gender) {
      const Probabilities g(tail, tail + std::ptrdiff_t(gender_labels_.size()));
      results[i].gender = argmax(g);
      results[i].gender_score = g[std::size_t(results[i].gender)];
    }
    // A regression can leave the range it was trained on (e.g. a negative age on a
    // non-face); 0 keeps "< 0 = not run" unambiguous.
    if (age) results[i].age = std::max(0.f, emotions[i].back());
    results[i].face = std::move(faces[i]);
  }
  return results;
}

MIEN_API std::vector<Probabilities> Pipeline::classify_crops(const std::vector<const Image*>& crops,
                                                             bool flip_tta, int threads) const {
  return scores(crops.size(), false, false, flip_tta, threads,
                [&](const FaceClassifier& c, FaceView view, std::size_t i, float* out) {
                  c.classify_crop(*crops[i], view, threads, out);
                });
}

#endif  // MIEN_API_BODIES

}  // namespace mien
