// Options shared by the commands that run the face pipeline (image, eval, video): which
// models, detection settings, threads, test-time augmentation.
#pragma once

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "mien/vision/pipeline.hpp"
#include "tools/cli/args.hpp"

namespace mien::cli {

inline void add_model_options(ArgParser& args) {
  args.option("--detector", "PATH", "face detector model (default: built-in BlazeFace)")
      .option(
          "--emotion", "PATH[,PATH...]",
          "emotion model(s); several are averaged as an ensemble (default: built-in\n"
          "                          ensemble: big-XCEPTION 0.35 + FaceExpressionNet 0.65, which\n"
          "                          also reads the mirror image of faces the two are unsure of)")
      .option("--emotion-weights", "W[,W...]",
              "ensemble weights, one per --emotion model (default: equal)")
      .flag("--fast", "built-in big-XCEPTION alone: about half the work per face")
      .option("--gender", "PATH", "gender model (default: built-in)")
      .flag("--no-gender", "do not run the gender model")
      .option("--age", "PATH", "age model (default: built-in face-api AgeGenderNet)")
      .flag("--no-age", "do not run the age model");
}

// What the emotion side of the pipeline is, for reports.
inline std::string emotion_description(const ArgParser& args) {
  if (args.has("--emotion")) {
    std::string s = args.get("--emotion");
    if (args.has("--emotion-weights")) s += " (weights " + args.get("--emotion-weights") + ")";
    return s;
  }
  if (args.has("--fast")) return "built-in emotion model (big-XCEPTION, --fast)";
  return "built-in ensemble (big-XCEPTION 0.35 + FaceExpressionNet 0.65, mirror when unsure)";
}

inline void add_detect_options(ArgParser& args) {
  args.option("--threshold", "P", "face score threshold 0..1 (default: the detector's)")
      .option("--min-face", "PX", "ignore faces smaller than this many pixels", "0")
      .option("--tiles", "MODE", "tiled detection for small faces: auto, on or off", "auto")
      .flag("--no-zoom-out",
            "no second detection pass on the photo framed by a border (that pass finds\n"
            "                          faces that fill the photo; it runs only when the first\n"
            "                          finds none or a face wider than 40% of the photo)");
}

inline void add_run_options(ArgParser& args) {
  args.option("--threads", "N", "threads", "1")
      .flag("--tta", "average each face with its mirror image (test-time augmentation)");
}

inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// The models the options name (the built-in ones by default); make_pipeline builds on them.
// `mien serve` keeps them to report their metadata (GET /v1/models).
inline PipelineModels make_pipeline_models(const ArgParser& args) {
  if (args.has("--fast") && args.has("--emotion"))
    throw UsageError("--fast picks the built-in emotion model: give --fast or --emotion");
  if (args.has("--emotion-weights") && !args.has("--emotion"))
    throw UsageError("--emotion-weights needs --emotion (the default ensemble has its own)");
  PipelineModels defaults;
  const bool need_defaults = !args.has("--detector") || !args.has("--emotion") ||
                             (!args.has("--gender") && !args.has("--no-gender")) ||
                             (!args.has("--age") && !args.has("--no-age"));
  if (need_defaults) defaults = Pipeline::default_models("", args.has("--fast"));
  PipelineModels m;
  m.detector = args.has("--detector") ? Model::load(args.get("--detector")) : defaults.detector;
  if (args.has("--emotion")) {
    const auto paths = split_list(args.get("--emotion"));
    if (paths.empty()) throw UsageError("--emotion needs at least one model path");
    for (const std::string& p : paths) m.emotion.push_back(Model::load(p));
    if (args.has("--emotion-weights")) {
      for (const std::string& w : split_list(args.get("--emotion-weights"))) {
        char* end = nullptr;
        const double v = std::strtod(w.c_str(), &end);
        if (*end || !(v >= 0 && v <= 1e6))
          throw UsageError("--emotion-weights: '" + w + "' is not a weight >= 0");
        m.emotion_weights.push_back(float(v));
      }
      if (m.emotion_weights.size() != m.emotion.size())
        throw UsageError("--emotion-weights has " + std::to_string(m.emotion_weights.size()) +
                         " weights for " + std::to_string(m.emotion.size()) + " models");
    }
  } else {
    m.emotion = defaults.emotion;
    m.emotion_weights = defaults.emotion_weights;
    m.emotion_flip = defaults.emotion_flip;
    m.mirror_margin = defaults.mirror_margin;
  }
  if (!args.has("--no-gender"))
    m.gender = args.has("--gender") ? Model::load(args.get("--gender")) : defaults.gender;
  if (!args.has("--no-age"))
    m.age = args.has("--age") ? Model::load(args.get("--age")) : defaults.age;
  return m;
}

inline Pipeline make_pipeline(const ArgParser& args) {
  return Pipeline(make_pipeline_models(args));
}

inline PipelineOptions pipeline_options(const ArgParser& args) {
  PipelineOptions o;
  if (args.has("--threshold")) o.detect.threshold = float(args.get_double("--threshold", 0, 1));
  if (args.has("--min-face")) o.detect.min_face = float(args.get_double("--min-face", 0, 1e6));
  if (args.has("--tiles")) {
    const std::string t = args.get("--tiles");
    if (t == "auto")
      o.detect.tiling = TileMode::Auto;
    else if (t == "on")
      o.detect.tiling = TileMode::On;
    else if (t == "off")
      o.detect.tiling = TileMode::Off;
    else
      throw UsageError("--tiles must be auto, on or off");
  }
  if (args.has("--threads")) o.detect.threads = args.get_int("--threads", 1, 256);
  o.flip_tta = args.has("--tta");
  o.detect.zoom_out = !args.has("--no-zoom-out");
  o.gender = !args.has("--no-gender");
  o.age = !args.has("--no-age");
  return o;
}

}  // namespace mien::cli
