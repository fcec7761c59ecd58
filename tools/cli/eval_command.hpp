// `mien eval DATASET`: accuracy, macro-F1, per-class precision/recall and the confusion
// matrix of the emotion model(s) on a labelled set of faces. The library does the work
// (include/mien/eval/: readers.hpp reads the formats, evaluate.hpp classifies, metrics.hpp
// does the arithmetic, report.hpp writes the JSON and the predictions CSV); this file
// parses the options and prints the table and the confusion-matrix picture.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "mien/eval/evaluate.hpp"
#include "mien/eval/metrics.hpp"
#include "mien/eval/report.hpp"
#include "mien/vision/draw.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/pipeline_options.hpp"
#include "tools/cli/progress.hpp"

namespace mien::cli {

namespace detail {

// Sequential "Blues" colour map (as in matplotlib): light for 0, dark blue for 1, evenly
// readable for people with colour-vision deficiencies.
inline Rgb blues(double f) {
  static const Rgb stops[] = {
      {247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
  f = std::clamp(std::isnan(f) ? 0.0 : f, 0.0, 1.0) * 4.0;
  const int i = std::min(3, int(f));
  const double t = f - i;
  auto mix = [&](uint8_t a, uint8_t b) { return uint8_t(std::lround(a + (b - a) * t)); };
  return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g),
          mix(stops[i].b, stops[i + 1].b)};
}

inline std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Text centred in [x, x+w).
inline void text_centered(Image& img, int x, int w, int y, const std::string& s, Rgb c, int scale) {
  draw_text(img, x + (w - text_size(s, scale).w) / 2, y, s, c, scale);
}

}  // namespace detail

// The confusion matrix as a heat map: a cell's colour is the share of its true class
// (row-normalised, so rare classes such as disgust are as visible as happy), with the count
// and the share written in it; rows are true classes, columns predictions.
inline Image draw_confusion(const ConfusionMatrix& cm, const std::string& title,
                            const std::string& subtitle) {
  const int n = cm.size(), S = 2;  // S: font scale of labels and counts
  int label_w = 0;
  for (const std::string& l : cm.labels()) label_w = std::max(label_w, text_size(l, S).w);
  const int cell_w = std::max(label_w + 16, 88), cell_h = 58, gap = 2;
  const int left = std::max(label_w, text_size("true", S).w) + 28;
  const int top = 108, right = 80, bottom = 64;
  const int grid_w = n * cell_w, grid_h = n * cell_h;
  const int width =
      std::max({left + grid_w + right, text_size(title, S).w + 32, text_size(subtitle, 1).w + 32});
  Image img(width, top + grid_h + bottom, Rgb{255, 255, 255});
  const Rgb ink{20, 20, 20}, grey{110, 110, 110};

  draw_text(img, 16, 12, title, ink, S);
  draw_text(img, 16, 36, subtitle, grey, 1);
  detail::text_centered(img, left, grid_w, 58, "predicted", grey, S);
  draw_text(img, left - 12 - text_size("true", S).w, top - 24, "true", grey, S);
  for (int k = 0; k < n; ++k) {
    const std::string& l = cm.labels()[std::size_t(k)];
    detail::text_centered(img, left + k * cell_w, cell_w, top - 24, l, ink, S);
    const int ty = top + k * cell_h + (cell_h - text_size(l, S).h) / 2;
    draw_text(img, left - 12 - text_size(l, S).w, ty, l, ink, S);
  }
  for (int t = 0; t < n; ++t) {
    const int64_t row = cm.true_count(t);
    for (int p = 0; p < n; ++p) {
      const int64_t c = cm.at(t, p);
      const double f = row > 0 ? double(c) / double(row) : 0.0;
      const int x = left + p * cell_w, y = top + t * cell_h;
      fill_rect(img, x + gap / 2, y + gap / 2, cell_w - gap, cell_h - gap, detail::blues(f));
      if (t == p) draw_rect(img, x + gap / 2, y + gap / 2, cell_w - gap, cell_h - gap, ink, 2);
      const Rgb tc = f > 0.5 ? Rgb{255, 255, 255} : ink;
      const std::string count = std::to_string(c);
      detail::text_centered(img, x, cell_w, y + 12, count, tc, S);
      if (row > 0)
        detail::text_centered(img, x, cell_w, y + 36, detail::fixed(100 * f, 1) + "%", tc, 1);
    }
    draw_text(img, left + grid_w + 10, top + t * cell_h + 25, "n=" + std::to_string(row), grey, 1);
  }
  // Legend: the colour scale under the grid.
  const int ly = top + grid_h + 22, lw = std::min(grid_w, 300);
  for (int i = 0; i < lw; ++i)
    fill_rect(img, left + i, ly, 1, 12, detail::blues(double(i) / double(lw - 1)));
  draw_text(img, left, ly + 18, "0%", grey, 1);
  const std::string full = "100% of the true class";
  draw_text(img, left + lw - text_size(full, 1).w, ly + 18, full, grey, 1);
  return img;
}

inline void print_report(const Dataset& ds, const EvalResult& r, const std::string& model, bool tta,
                         double seconds) {
  const ConfusionMatrix& cm = r.confusion;
  const int64_t total = int64_t(ds.samples.size()) + ds.skipped_total();
  std::printf("dataset     %s (%s, %lld entries)\n", ds.path.c_str(), ds.format.c_str(),
              static_cast<long long>(total));
  std::printf("model       %s%s\n", model.c_str(), tta ? " + flip TTA" : "");
  std::printf("evaluated   %lld images (%lld face crops, %lld through the detector)\n",
              static_cast<long long>(cm.total()),
              static_cast<long long>(cm.total() - (r.detected - r.no_face)),
              static_cast<long long>(r.detected - r.no_face));
  std::vector<std::string> out;
  for (const auto& u : r.unpredictable)
    out.push_back(std::to_string(u.second) + " labelled " + u.first +
                  " (not a label of the model)");
  for (const auto& s : ds.skipped) out.push_back(std::to_string(s.second) + " " + s.first);
  if (!out.empty()) std::printf("left out    %s\n", mien::detail::join(out, "; ").c_str());
  // The headline counts every labelled image: no face and unreadable are wrong answers.
  std::printf(
      "accuracy    %.4f  (%lld/%lld; %lld without a detected face and %lld unreadable "
      "count as wrong)\n",
      r.accuracy_all(), static_cast<long long>(cm.correct()), static_cast<long long>(r.attempted()),
      static_cast<long long>(r.no_face), static_cast<long long>(r.unreadable));
  std::printf("  of found  %.4f  (%lld/%lld images with a face)\n", cm.accuracy(),
              static_cast<long long>(cm.correct()), static_cast<long long>(cm.total()));
  std::printf("macro-F1    %.4f  (classes with test images; of found)\n", cm.macro_f1());
  std::printf("mean recall %.4f  (balanced accuracy; of found)\n", cm.macro_recall());
  std::printf("time        %.2f s  (%.0f images/s)\n\n", seconds,
              seconds > 0 ? double(cm.total()) / seconds : 0.0);
  int w = 9;
  for (const std::string& l : cm.labels()) w = std::max(w, int(l.size()) + 1);
  std::printf("%-*s %9s %7s %7s %8s %9s\n", w, "class", "precision", "recall", "F1", "support",
              "predicted");
  for (int k = 0; k < cm.size(); ++k)
    std::printf("%-*s %9.4f %7.4f %7.4f %8lld %9lld\n", w, cm.labels()[std::size_t(k)].c_str(),
                cm.precision(k), cm.recall(k), cm.f1(k), static_cast<long long>(cm.true_count(k)),
                static_cast<long long>(cm.predicted_count(k)));
  std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-*s", w, "");
  int cw = 6;
  for (const std::string& l : cm.labels()) cw = std::max(cw, int(l.size()));
  for (const std::string& l : cm.labels()) std::printf(" %*s", cw, l.c_str());
  std::printf("\n");
  for (int t = 0; t < cm.size(); ++t) {
    std::printf("%-*s", w, cm.labels()[std::size_t(t)].c_str());
    for (int p = 0; p < cm.size(); ++p)
      std::printf(" %*lld", cw, static_cast<long long>(cm.at(t, p)));
    std::printf("\n");
  }
}

inline int cmd_eval(const std::vector<std::string>& argv) {
  ArgParser args("mien eval [options] DATASET",
                 "Accuracy, macro-F1, per-class precision/recall and the confusion matrix of the\n"
                 "emotion model(s) on a labelled set of faces. DATASET is one of:\n"
                 "  - a folder with one subfolder per class (angry/, happy/, ...; any case, and\n"
                 "    synonyms such as anger, happiness, fearful, disgusted, surprised);\n"
                 "  - the FER-2013 CSV (emotion,pixels,Usage: fer2013.csv, icml_face_data.csv);\n"
                 "  - FER+ votes: fer2013new.csv (images in FER2013Train/Valid/Test beside it or\n"
                 "    in --images) or a FERPlus label.csv (images beside it). The label is the\n"
                 "    emotion with the most votes; ties and 'unknown'/'not a face' are left out;\n"
                 "  - a CSV of image,label rows, image paths relative to the CSV.\n"
                 "Images go through the face detector and the largest face is classified,\n"
                 "except face crops (--crops): FER-2013 CSV and FER+ are crops by definition.\n"
                 "The accuracy counts every labelled image: one without a detected face or that\n"
                 "cannot be read is wrong (the second line gives the accuracy over the found\n"
                 "faces). Labels the model cannot predict (e.g. FER+ contempt) are reported and\n"
                 "left out of the metrics.\n"
                 "The gender and age models are not used (--gender, --no-gender, --age and\n"
                 "--no-age are ignored).");
  args.option("--format", "F", "dataset format: auto, folders, fer2013, ferplus or csv", "auto")
      .option("--usage", "SET",
              "FER-2013/FER+: only rows of this Usage (Training, PublicTest, PrivateTest)")
      .option("--images", "DIR", "FER+/CSV: folder the image names are relative to")
      .option("--crops", "MODE",
              "which images are face crops, classified whole: all (also plain --crops),\n"
              "                          auto (at most 96 pixels a side), off, or dataset (all\n"
              "                          for FER-2013 CSV and FER+, else off)",
              "dataset")
      .option("--ferplus-rule", "RULE",
              "FER+ votes -> label: majority (FERPlus's: single votes dropped, the top needs\n"
              "                          more than half) or plurality (most votes)",
              "majority")
      .option("--batch", "N", "face crops per classifier run", "64")
      .flag("--json", "print the results as one JSON object")
      .option("--predictions", "OUT.csv", "write each image's label, prediction and scores")
      .option("--confusion", "OUT.png", "draw the confusion matrix as a heat map");
  add_model_options(args);
  add_detect_options(args);
  add_run_options(args);
  // `--crops` alone (as in earlier versions) means every image; `--crops MODE` picks one.
  std::vector<std::string> av = argv;
  for (std::size_t i = 0; i < av.size(); ++i)
    if (av[i] == "--crops") {
      const bool mode_follows = i + 1 < av.size() && (av[i + 1] == "all" || av[i + 1] == "auto" ||
                                                      av[i + 1] == "off" || av[i + 1] == "dataset");
      if (!mode_follows) av[i] = "--crops=all";
    }
  if (!args.parse(av)) return 0;
  if (args.positional().size() != 1) throw UsageError("mien eval needs one DATASET");

  DatasetOptions dopt;
  CropsMode eopt_crops = CropsMode::Dataset;
  try {
    dopt.format = parse_dataset_format(args.get("--format"));
  } catch (const Error& e) {
    throw UsageError(std::string("--format: ") + e.what());
  }
  dopt.usage = args.get("--usage");
  dopt.images_dir = args.get("--images");
  try {
    dopt.ferplus_rule = parse_ferplus_rule(args.get("--ferplus-rule"));
    eopt_crops = parse_crops_mode(args.get("--crops"));
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  if (args.has("--usage") && dopt.usage.empty()) throw UsageError("--usage needs a value");
  EvalOptions eopt;
  eopt.pipeline = pipeline_options(args);
  eopt.crops = eopt_crops;
  eopt.threads = args.get_int("--threads", 1, 256);
  eopt.batch = args.get_int("--batch", 1, 4096);
  const std::string confusion = args.get("--confusion");
  if (!confusion.empty()) {
    const std::string ext = mien::detail::lower_extension(confusion);
    if (ext != "png" && ext != "jpg" && ext != "jpeg" && ext != "bmp" && ext != "tga")
      throw UsageError("--confusion must name a .png, .jpg, .bmp or .tga file");
  }

  // The gender and age models play no part in an evaluation: do not load them.
  ArgParser margs = args;
  margs.parse({"--no-gender", "--no-age"});
  const Pipeline pipeline = make_pipeline(margs);
  const std::string model = emotion_description(args);

  const auto t0 = std::chrono::steady_clock::now();
  const Dataset ds = read_dataset(args.positional()[0], dopt);
  ProgressBar bar(true, "", "images");
  EvalResult r;
  try {
    r = evaluate(pipeline, ds, eopt, [&](std::size_t done, std::size_t total) {
      bar.update(int64_t(done), int64_t(total));
    });
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Unreadable images: a few messages here, all of them in --predictions.
  int shown = 0;
  for (const SampleResult& s : r.samples)
    if (s.status == SampleStatus::Unreadable && shown++ < 5)
      std::fprintf(stderr, "mien: warning: skipped: %s\n", s.error.c_str());
  if (shown > 5) std::fprintf(stderr, "mien: warning: %d more unreadable images\n", shown - 5);

  if (args.has("--json"))
    std::printf("%s\n",
                json_text(eval_json(ds, r, model, eopt.pipeline.flip_tta, seconds)).c_str());
  else
    print_report(ds, r, model, eopt.pipeline.flip_tta, seconds);
  std::fflush(stdout);
  if (args.has("--predictions")) write_predictions(args.get("--predictions"), ds, r);
  if (!confusion.empty()) {
    const ConfusionMatrix& cm = r.confusion;
    const std::string title = "accuracy " + detail::fixed(100 * r.accuracy_all(), 1) +
                              "%   macro-F1 " + detail::fixed(cm.macro_f1(), 3) + "   N " +
                              std::to_string(r.attempted());
    const std::string sub = ds.path + " (" + ds.format + ")  |  " + model +
                            (eopt.pipeline.flip_tta ? " + flip TTA" : "");
    save_image(draw_confusion(cm, title, sub), confusion);
  }
  // Nothing evaluated (every image unreadable or without a face) is not a result.
  if (r.confusion.total() == 0) {
    std::fprintf(stderr, "mien: error: %s: no image could be evaluated%s\n", ds.path.c_str(),
                 r.no_face > 0 && r.unreadable == 0
                     ? " (no face was found in any image; if they are face crops, use --crops)"
                     : "");
    return 1;
  }
  return 0;
}

}  // namespace mien::cli
