// `mien quantize`: an int8 copy of a face classifier (model/quantize.hpp), calibrated on
// face photos or crops prepared exactly as the pipeline prepares them for that model.
#pragma once

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "mien/mien.hpp"
#include "mien/model/quantize.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/image_command.hpp"
#include "tools/cli/pipeline_options.hpp"
#include "tools/cli/progress.hpp"

namespace mien::cli {

// Every `step`-th of the files, so that a limit spreads over a sorted, class-per-folder set.
inline std::vector<std::string> spread(const std::vector<std::string>& files, std::size_t limit) {
  if (limit == 0 || files.size() <= limit) return files;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < limit; ++i) out.push_back(files[i * files.size() / limit]);
  return out;
}

inline int cmd_quantize(const std::vector<std::string>& argv) {
  ArgParser args("mien quantize [options] MODEL.mien --calibrate DIR[,DIR...] -o OUT.mien",
                 "Write an int8 copy of a face classifier (emotion or gender model): each conv2d\n"
                 "becomes a qconv2d with int8 weights (one scale per output channel) and an\n"
                 "input scale and zero point calibrated on the images of DIR (searched\n"
                 "recursively). Images up to 96 pixels a side are taken as face crops; larger\n"
                 "ones go through the face detector and their largest face is cropped as the\n"
                 "pipeline crops it for this model. The output embeds test vectors from mien's\n"
                 "scalar int8 kernels (`mien check` compares the fast kernels with them).\n"
                 "Measure the result with `mien eval --emotion OUT.mien` before using it.");
  args.option("--calibrate", "DIR[,DIR...]", "folders of calibration images (required)")
      .option("-o", "OUT.mien", "output file (required)")
      .option("--limit", "N", "at most N images, spread evenly over the sorted list", "400")
      .option("--method", "M",
              "input ranges: percentile, mse (least squared error over the histogram) or minmax",
              "percentile")
      .option("--percentile", "P", "percentile method: share of each tail kept, in percent",
              "99.999")
      .option("--min-k", "K", "keep convs with fewer than K products per output in float", "64")
      .option("--min-cout", "N", "keep convs with fewer than N output channels in float", "16")
      .option("--skip", "NAME[,NAME...]", "conv layers to keep in float (names as `mien info`)")
      .option("--equalize", "A",
              "channel equalization of int8 convs' inputs fed by a float conv: 0 (off) to 1 "
              "(every channel to the widest range)",
              "1")
      .option("--crops", "MODE", "which images are face crops: auto (<= 96 px a side), all, off",
              "auto")
      .option("--detector", "PATH", "face detector model (default: built-in BlazeFace)");
  if (!args.parse(argv)) return 0;
  if (args.positional().size() != 1) throw UsageError("mien quantize needs exactly one MODEL.mien");
  if (!args.has("--calibrate")) throw UsageError("mien quantize needs --calibrate DIR");
  if (!args.has("-o")) throw UsageError("mien quantize needs -o OUT.mien");
  const std::string in_path = args.positional()[0], out_path = args.get("-o");
  if (out_path == in_path) throw UsageError("-o must differ from the input model");
  const std::string crops = args.get("--crops");
  if (crops != "auto" && crops != "all" && crops != "off")
    throw UsageError("--crops must be auto, all or off");
  QuantizeOptions qo;
  qo.method = args.get("--method");
  if (qo.method != "percentile" && qo.method != "minmax" && qo.method != "mse")
    throw UsageError("--method must be percentile, mse or minmax");
  {
    char* end = nullptr;
    const std::string p = args.get("--percentile");
    qo.percentile = std::strtod(p.c_str(), &end);
    if (*end || !(qo.percentile > 50.0 && qo.percentile <= 100.0))
      throw UsageError("--percentile must be a number in (50, 100]");
  }
  qo.min_k = args.get_int("--min-k", 0, 1 << 24);
  qo.min_cout = args.get_int("--min-cout", 0, 1 << 24);
  if (args.has("--skip")) qo.skip = split_list(args.get("--skip"));
  {
    char* end = nullptr;
    const std::string a = args.get("--equalize");
    qo.equalize = std::strtod(a.c_str(), &end);
    if (a.empty() || *end || !(qo.equalize >= 0.0 && qo.equalize <= 1.0))
      throw UsageError("--equalize must be a number in [0, 1]");
  }
  const std::size_t limit = std::size_t(args.get_int("--limit", 1, 1000000));

  // The float model, as a classifier (its crop geometry and input spec), and its graph.
  const AlignedBytes bytes = read_file_aligned(in_path);
  const MienView view = parse_mien_view(bytes.data(), bytes.size(), in_path);
  const GraphDef graph = graph_from_view(view, in_path);
  const Model model = Model::load(in_path);
  const std::string task = model.metadata().get_string("model.task", "");
  if (task != "emotion" && task != "gender")
    throw Error(in_path + ": model.task is '" + task +
                "': mien quantize calibrates face classifiers (emotion, gender) from images");
  for (const NodeDef& n : graph.nodes)
    if (n.op == "qconv2d") throw Error(in_path + ": already quantized (layer " + n.name + ")");
  const FaceClassifier classifier(model);
  const InputSpec& spec = classifier.input();

  std::vector<std::string> files;
  for (const std::string& dir : split_list(args.get("--calibrate"))) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      throw Error("--calibrate " + dir + ": not a folder");
    const auto found = expand_inputs({dir}, true);
    if (found.empty()) throw Error("--calibrate " + dir + ": no images in it");
    files.insert(files.end(), found.begin(), found.end());
  }
  files = spread(files, limit);

  std::unique_ptr<FaceDetector> detector;
  const int h = spec.height, w = spec.width, c = spec.channels();
  const int64_t per_image = int64_t(h) * w * c;
  std::vector<float> values;
  int64_t taken = 0, unreadable = 0, no_face = 0;
  ProgressBar progress(true, "calibrating", "images");
  int64_t done = 0;
  for (const std::string& f : files) {
    progress.update(done++, int64_t(files.size()));
    Image img;
    try {
      img = load_image(f);
    } catch (const Error&) {
      ++unreadable;
      continue;
    }
    values.resize(std::size_t((taken + 1) * per_image));
    float* dst = values.data() + taken * per_image;
    const bool is_crop =
        crops == "all" || (crops == "auto" && std::max(img.width, img.height) <= 96);
    if (is_crop) {
      crop_resize_to_tensor(img, 0.f, 0.f, float(img.width), float(img.height), w, h, spec.color,
                            spec.scale.data(), spec.offset.data(), dst);
    } else {
      if (!detector)
        detector = std::make_unique<FaceDetector>(
            args.has("--detector") ? Model::load(args.get("--detector"))
                                   : Pipeline::default_models("", true).detector);
      const std::vector<Detection> faces = detector->detect(img);
      if (faces.empty()) {
        ++no_face;
        continue;
      }
      const Detection& face = *std::max_element(
          faces.begin(), faces.end(),
          [](const Detection& a, const Detection& b) { return box_area(a) < box_area(b); });
      warp_crop_to_tensor(img, classifier.crop_window(face), w, h, spec.color, spec.scale.data(),
                          spec.offset.data(), classifier.crop_geometry().fill, dst);
    }
    ++taken;
  }
  progress.finish();
  if (taken == 0)
    throw Error("no calibration image gave a face (" + std::to_string(unreadable) +
                " unreadable, " + std::to_string(no_face) + " without a face)");

  // Batches of 32 images.
  std::vector<Tensor> batches;
  for (int64_t i = 0; i < taken; i += 32) {
    const int n = int(std::min<int64_t>(32, taken - i));
    batches.emplace_back(Shape(n, h, w, c), values.data() + i * per_image);
  }
  QuantizeResult r = quantize_graph(graph, batches, qo);
  r.graph.meta.set("quant.source", model.metadata().get_string("model.name", in_path));
  r.graph.meta.set("quant.method", qo.method == "percentile"
                                       ? "percentile " + args.get("--percentile")
                                       : qo.method);
  r.graph.meta.set("quant.calibration_images", r.images);
  if (qo.equalize > 0) r.graph.meta.set("quant.equalize", qo.equalize);
  std::vector<std::string> skipped;
  for (const QuantizedLayer& l : r.layers)
    if (!l.quantized) skipped.push_back(l.name);
  r.graph.meta.set("quant.skipped", skipped);
  write_mien(out_path, graph_to_file(r.graph));

  int quantized = 0;
  std::printf("%-44s %7s %22s %10s %4s\n", "layer", "K", "input range", "scale", "zp");
  for (const QuantizedLayer& l : r.layers) {
    if (l.quantized) {
      ++quantized;
      std::printf("%-44s %7lld [%9.4g, %9.4g] %10.4g %4d\n", l.name.c_str(), (long long)l.k, l.lo,
                  l.hi, l.input.scale, l.input.zero_point);
    } else {
      std::printf("%-44s %7lld  float: %s\n", l.name.c_str(), (long long)l.k, l.why.c_str());
    }
  }
  std::printf(
      "%s: %d of %zu conv layers in int8, calibrated on %lld images (%lld unreadable, "
      "%lld without a face)\n",
      out_path.c_str(), quantized, r.layers.size(), (long long)r.images, (long long)unreadable,
      (long long)no_face);
  if (qo.equalize > 0)
    std::printf("input channels equalized (alpha %g) for %zu int8 convs\n", qo.equalize,
                r.equalized.size());
  return 0;
}

}  // namespace mien::cli
