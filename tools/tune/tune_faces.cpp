// Measurement tool behind the pipeline's defaults (issue #10): runs the detector and the
// classifiers on a labelled photo set under many settings and writes raw outputs that
// tools/tune/analyze.py turns into accuracies. Not part of the CLI: built on demand
// (`cmake --build build --target mien_tune`).
//
//   mien_tune dets LABELS.csv OUT.tsv [--pad F] [--fill black|edge]
//       every detection of every photo (padded by F on each side first when F > 0)
//   mien_tune classify LABELS.csv BOXES.tsv MODEL OUT.f32 [--scale S] [--shift Y]
//                      [--aspect A] [--align 0|1] [--fill black|edge] [--plain]
//       probabilities of MODEL for the chosen box of each photo, plain and mirrored:
//       float32 [images][2][labels]; photos without a box get zeros
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mien/eval/evaluate.hpp"
#include "mien/vision/detector.hpp"
#include "mien/vision/face_crop.hpp"

using namespace mien;

namespace {

std::string arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 0; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return argv[i + 1];
  return fallback;
}
bool has(int argc, char** argv, const char* name) {
  for (int i = 0; i < argc; ++i)
    if (std::string(argv[i]) == name) return true;
  return false;
}

// The image framed by `pad` times its longer side on every side.
Image padded(const Image& img, double pad, BorderFill fill, int& ox, int& oy) {
  const int p = int(std::lround(pad * std::max(img.width, img.height)));
  ox = oy = p;
  Image out(img.width + 2 * p, img.height + 2 * p);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx = x - p, sy = y - p;
      if (fill == BorderFill::Black && (sx < 0 || sy < 0 || sx >= img.width || sy >= img.height))
        continue;
      sx = std::clamp(sx, 0, img.width - 1);
      sy = std::clamp(sy, 0, img.height - 1);
      std::copy_n(img.pixel(sx, sy), 3, out.pixel(x, y));
    }
  return out;
}

int dets(int argc, char** argv) {
  const Dataset ds = read_dataset(argv[2]);
  std::ofstream out(argv[3]);
  const double pad = std::atof(arg(argc, argv, "--pad", "0").c_str());
  const BorderFill fill = parse_border_fill(arg(argc, argv, "--fill", "black"));
  const float threshold = float(std::atof(arg(argc, argv, "--threshold", "-1").c_str()));
  FaceDetector det(Model::load(MIEN_SOURCE_DIR "/weights/blazeface.mien"));
  DetectOptions opt;
  opt.threshold = threshold;
  for (std::size_t i = 0; i < ds.samples.size(); ++i) {
    const Image img = load_labelled_image(ds.samples[i]);
    int ox = 0, oy = 0;
    const Image in = pad > 0 ? padded(img, pad, fill, ox, oy) : img;
    for (const Detection& d : det.detect(in, opt)) {
      out << i << '\t' << img.width << '\t' << img.height << '\t' << d.x - ox << '\t' << d.y - oy
          << '\t' << d.w << '\t' << d.h << '\t' << d.score;
      for (const Point& k : d.keypoints) out << '\t' << k.x - ox << '\t' << k.y - oy;
      out << '\n';
    }
  }
  return 0;
}

int classify(int argc, char** argv) {
  const Dataset ds = read_dataset(argv[2]);
  std::vector<Detection> boxes(ds.samples.size());
  std::vector<bool> have(ds.samples.size(), false);
  {
    std::ifstream in(argv[3]);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::size_t i;
      Detection d;
      ss >> i >> d.x >> d.y >> d.w >> d.h;
      Point p;
      while (ss >> p.x >> p.y) d.keypoints.push_back(p);
      boxes.at(i) = d;
      have[i] = true;
    }
  }
  const Model model = Model::load(argv[4]);
  const InputSpec spec = InputSpec::from_model(model);
  const std::size_t k = model.metadata().get_strings("model.labels").size();
  CropGeometry g;
  g.scale = float(std::atof(arg(argc, argv, "--scale", "1.0").c_str()));
  g.shift_y = float(std::atof(arg(argc, argv, "--shift", "0").c_str()));
  g.aspect = float(std::atof(arg(argc, argv, "--aspect", "1").c_str()));
  g.align = arg(argc, argv, "--align", "0") == "1";
  g.landmark_centre = arg(argc, argv, "--centre", "box") == "landmarks";
  g.fill = parse_border_fill(arg(argc, argv, "--fill", "black"));
  const bool plain = has(argc, argv, "--plain");  // the old bilinear crop, no antialiasing
  const int h = spec.height, w = spec.width, c = spec.channels();
  const std::size_t per = std::size_t(h) * w * c;
  std::vector<float> result(ds.samples.size() * 2 * k, 0.f);
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < ds.samples.size(); ++i)
    if (have[i]) todo.push_back(i);
  const int threads = std::atoi(arg(argc, argv, "--threads", "2").c_str());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    Session s(model, 1);
    std::vector<float> x(2 * per);
    for (std::size_t t = next++; t < todo.size(); t = next++) {
      const std::size_t i = todo[t];
      const Image img = load_labelled_image(ds.samples[i]);
      const CropWindow win = crop_window(boxes[i], g);
      if (plain)
        crop_resize_to_tensor(img, float(win.cx - win.w / 2), float(win.cy - win.h / 2),
                              float(win.w), float(win.h), w, h, spec.color, spec.scale.data(),
                              spec.offset.data(), x.data());
      else
        warp_crop_to_tensor(img, win, w, h, spec.color, spec.scale.data(), spec.offset.data(),
                            g.fill, x.data());
      for (int yy = 0; yy < h; ++yy)
        for (int xx = 0; xx < w; ++xx)
          std::copy_n(x.data() + (std::size_t(yy) * w + xx) * c, c,
                      x.data() + per + (std::size_t(yy) * w + (w - 1 - xx)) * c);
      const ConstTensorView y = s.run(ConstTensorView(Shape(2, h, w, c), x.data()));
      std::copy_n(y.data, 2 * k, result.data() + i * 2 * k);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  std::ofstream out(argv[5], std::ios::binary);
  out.write(reinterpret_cast<const char*>(result.data()), std::streamsize(result.size() * 4));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "dets" && argc >= 4) return dets(argc, argv);
    if (cmd == "classify" && argc >= 6) return classify(argc, argv);
    std::fprintf(stderr, "usage: see the comment at the top of tools/tune/tune_faces.cpp\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mien_tune: %s\n", e.what());
    return 1;
  }
}
