// mien_time: mien's side of bench/peers/compare.sh, and a per-layer profiler.
//
//   mien_time MODEL.mien INPUT.npy [--threads N] [--isa auto|scalar|avx2|avx512] [--batch N]
//             [--seconds S] [--min-iters N] [--out PREFIX] [--profile [--top K]]
//   mien_time --pipeline [IMAGE] [--threads N] [--isa ...] [--seconds S] [--out PREFIX] [--fast]
//             [--no-age] [--weights DIR]
//
// Model mode loads a .mien, reads an NHWC float32 .npy input (rank 3 gets a batch of 1;
// --batch N repeats its images cyclically to N), plans a Session once, then runs it until
// both --seconds (default 1) and --min-iters (default 10) are reached, after 3 warm-up
// runs. It prints a human line and a machine line `RESULT {json}` with the median and
// minimum (and mean) wall-clock milliseconds per run, the median process CPU time per run (robust
// to other load at 1 thread; includes spinning at 2), MACs and GFLOP/s (2 flops per MAC at the
// median). --out writes the outputs of the first run as PREFIX.<k>.npy (graph output order, NHWC).
// --profile prints the per-layer table of include/mien/model/profile.hpp instead.
//
// Pipeline mode times Pipeline::analyze on IMAGE (default: the 640x480 benchmark scene of
// bench/peers/scene.hpp) with the default models (Pipeline::default_models: blazeface, the
// emotion ensemble big-XCEPTION + FaceExpressionNet with the mirror image for unsure faces,
// gender, age; --fast: big-XCEPTION alone; --no-age: without the age model, as the peers'
// pipelines in compare.sh, which have none), then detection only, classification only (given the
// faces), and each model alone on exactly the tensors the pipeline builds (the detector's
// letterboxed input, the batch of face crops of each classifier; the mirror crops that the
// ensemble adds for unsure faces are not among them). --out writes those tensors as
// PREFIX.<model>.npy so that peers can be timed on the same inputs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "mien/mien.hpp"
#include "mien/model/profile.hpp"
#include "mien/vision/pipeline.hpp"
#include "scene.hpp"

#ifndef MIEN_SOURCE_DIR
#define MIEN_SOURCE_DIR "."
#endif

namespace {

using namespace mien;

[[noreturn]] void usage(const std::string& msg = "") {
  if (!msg.empty()) std::fprintf(stderr, "mien_time: %s\n", msg.c_str());
  std::fprintf(
      stderr,
      "usage: mien_time MODEL.mien INPUT.npy [--threads N] [--isa auto|scalar|avx2|avx512]\n"
      "                 [--batch N] [--seconds S] [--min-iters N] [--out PREFIX]\n"
      "                 [--profile [--top K]]\n"
      "       mien_time --pipeline [IMAGE] [--threads N] [--isa ...] [--seconds S]\n"
      "                 [--weights DIR] [--out PREFIX] [--fast] [--no-age]\n");
  std::exit(2);
}

// ---- .npy (float32/float64 little-endian, C order) ----

std::vector<int> parse_shape(const std::string& header, const std::string& path) {
  const std::size_t k = header.find("'shape'");
  const std::size_t a = header.find('(', k), b = header.find(')', a);
  MIEN_CHECK(k != std::string::npos && a != std::string::npos && b != std::string::npos, path,
             ": .npy header has no shape");
  std::vector<int> dims;
  std::stringstream ss(header.substr(a + 1, b - a - 1));
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(" ") == std::string::npos) continue;
    dims.push_back(std::stoi(item));
  }
  return dims;
}

Tensor read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  MIEN_CHECK(f.good(), "cannot open ", path);
  char magic[8];
  f.read(magic, 8);
  MIEN_CHECK(f.good() && std::memcmp(magic, "\x93NUMPY", 6) == 0, path, ": not a .npy file");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    unsigned char l[2];
    f.read(reinterpret_cast<char*>(l), 2);
    hlen = l[0] | (uint32_t(l[1]) << 8);
  } else {
    unsigned char l[4];
    f.read(reinterpret_cast<char*>(l), 4);
    hlen = l[0] | (uint32_t(l[1]) << 8) | (uint32_t(l[2]) << 16) | (uint32_t(l[3]) << 24);
  }
  MIEN_CHECK(hlen < 65536, path, ": .npy header too long");
  std::string header(hlen, ' ');
  f.read(&header[0], hlen);
  MIEN_CHECK(header.find("'fortran_order': False") != std::string::npos, path,
             ": only C-order .npy files are supported");
  const bool f4 = header.find("'<f4'") != std::string::npos;
  const bool f8 = header.find("'<f8'") != std::string::npos;
  MIEN_CHECK(f4 || f8, path, ": only float32/float64 .npy files are supported");
  std::vector<int> d = parse_shape(header, path);
  if (d.size() == 3) d.insert(d.begin(), 1);
  MIEN_CHECK(d.size() == 4, path, ": expected an NHWC array (rank 3 or 4)");
  Tensor t(Shape(d[0], d[1], d[2], d[3]));
  const std::size_t n = std::size_t(t.shape().size());
  if (f4) {
    f.read(reinterpret_cast<char*>(t.data()), std::streamsize(n * 4));
  } else {
    std::vector<double> tmp(n);
    f.read(reinterpret_cast<char*>(tmp.data()), std::streamsize(n * 8));
    for (std::size_t i = 0; i < n; ++i) t.data()[i] = float(tmp[i]);
  }
  MIEN_CHECK(f.good(), path, ": truncated .npy data");
  return t;
}

void write_npy(const std::string& path, const ConstTensorView& v) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(v.shape.n) + ", " + std::to_string(v.shape.h) + ", " +
                       std::to_string(v.shape.w) + ", " + std::to_string(v.shape.c) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  MIEN_CHECK(f.good(), "cannot write ", path);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = uint16_t(header.size());
  const char l[2] = {char(len & 0xff), char(len >> 8)};
  f.write(l, 2);
  f.write(header.data(), std::streamsize(header.size()));
  f.write(reinterpret_cast<const char*>(v.data), std::streamsize(v.shape.size() * 4));
  MIEN_CHECK(f.good(), "cannot write ", path);
}

// ---- timing ----

struct Timing {
  double median_ms = 0, min_ms = 0, mean_ms = 0;  // wall clock per run
  double cpu_ms = 0;                              // median process CPU time per run (all threads)
  int iters = 0;
};

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

struct TimingOptions {
  double seconds = 1.0;
  int min_iters = 10;
  int warmup = 3;
};

Timing time_it(const std::function<void()>& fn, const TimingOptions& opt) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < opt.warmup; ++i) fn();
  std::vector<double> ms, cpu;
  const auto start = clock::now();
  while (int(ms.size()) < opt.min_iters ||
         std::chrono::duration<double>(clock::now() - start).count() < opt.seconds) {
    const double c0 = process_cpu_ms();
    const auto t0 = clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    cpu.push_back(process_cpu_ms() - c0);
  }
  Timing t;
  t.iters = int(ms.size());
  t.min_ms = *std::min_element(ms.begin(), ms.end());
  t.median_ms = detail::median_of(ms);
  for (double v : ms) t.mean_ms += v / double(ms.size());
  t.cpu_ms = detail::median_of(cpu);
  return t;
}

struct Args {
  std::vector<std::string> positional;
  int threads = 1, batch = 0, top = 0;
  std::string isa = "auto", out, weights;
  bool profile = false, pipeline = false, fast = false, no_age = false;
  TimingOptions timing;
};

ModelOptions model_options(const std::string& isa) {
  ModelOptions o;
  if (isa == "scalar" || isa == "avx2" || isa == "avx512") {
    o.force_isa = true;
    o.isa = isa == "avx512" ? Isa::Avx512 : isa == "avx2" ? Isa::Avx2 : Isa::Scalar;
    if (!cpu_supports(o.isa)) usage("--isa " + isa + ": this CPU lacks it");
  } else if (isa != "auto") {
    usage("--isa must be auto, scalar, avx2 or avx512");
  }
  return o;
}

std::string shape_json(const Shape& s) {
  return "[" + std::to_string(s.n) + "," + std::to_string(s.h) + "," + std::to_string(s.w) + "," +
         std::to_string(s.c) + "]";
}

int run_model(const Args& a) {
  if (a.positional.size() != 2) usage("model mode needs MODEL.mien and INPUT.npy");
  const Model model = Model::load(a.positional[0], model_options(a.isa));
  Tensor input = read_npy(a.positional[1]);
  if (a.batch > 0 && a.batch != input.shape().n) {
    Shape s = input.shape();
    const int64_t per = s.size() / s.n;
    Tensor b(Shape(a.batch, s.h, s.w, s.c));
    for (int i = 0; i < a.batch; ++i)
      std::copy_n(input.data() + (i % s.n) * per, per, b.data() + int64_t(i) * per);
    input = std::move(b);
  }
  const std::vector<ConstTensorView> inputs{input.view()};
  const int64_t macs = model.macs({input.shape()});

  if (a.profile) {
    ProfileOptions po;
    po.threads = a.threads;
    po.min_seconds = a.timing.seconds;
    po.min_repetitions = std::max(a.timing.min_iters, 20);
    const Profile p = profile_model(model, inputs, po);
    std::fputs(p.table(std::size_t(a.top)).c_str(), stdout);
    return 0;
  }

  Session session(model, a.threads);
  const auto& outs = session.run(inputs);
  if (!a.out.empty())
    for (std::size_t k = 0; k < outs.size(); ++k)
      write_npy(a.out + "." + std::to_string(k) + ".npy", outs[k]);
  const Timing t = time_it([&] { session.run(inputs); }, a.timing);
  const double gflops = 2.0 * double(macs) / (t.median_ms * 1e6);
  std::printf(
      "%s  input %s  isa %s  threads %d: median %.4f ms  min %.4f ms  cpu %.4f ms  "
      "(%d runs)  %.1f MMAC  %.2f GFLOP/s\n",
      a.positional[0].c_str(), input.shape().str().c_str(), isa_name(model.isa()), a.threads,
      t.median_ms, t.min_ms, t.cpu_ms, t.iters, double(macs) / 1e6, gflops);
  std::printf(
      "RESULT {\"runtime\":\"mien\",\"model\":\"%s\",\"input\":%s,\"isa\":\"%s\","
      "\"threads\":%d,\"median_ms\":%.6f,\"min_ms\":%.6f,\"mean_ms\":%.6f,\"cpu_ms\":%.6f,"
      "\"iters\":%d,\"macs\":%lld,\"gflops\":%.4f,\"outputs\":%zu}\n",
      a.positional[0].c_str(), shape_json(input.shape()).c_str(), isa_name(model.isa()), a.threads,
      t.median_ms, t.min_ms, t.mean_ms, t.cpu_ms, t.iters, static_cast<long long>(macs), gflops,
      outs.size());
  return 0;
}

PipelineModels load_models(const Args& a) {
  const ModelOptions mo = model_options(a.isa);
  // Pipeline::default_models(dir, a.fast), with the ISA of --isa.
  return Pipeline::default_models(
      [&](const char* name) {
        const EmbeddedModel e = embedded_model(name);
        if (a.weights.empty() && e.available())
          return Model::from_memory(e.data, e.size, std::string("<built-in ") + name + ">", mo);
        const std::string dir =
            a.weights.empty() ? std::string(MIEN_SOURCE_DIR) + "/weights" : a.weights;
        return Model::load(dir + "/" + name + ".mien", mo);
      },
      a.fast);
}

int run_pipeline(const Args& a) {
  if (a.positional.size() > 1) usage("pipeline mode takes at most one IMAGE");
  const Image img = a.positional.empty() ? mien_bench::scene_640x480(MIEN_SOURCE_DIR)
                                         : load_image(a.positional[0]);
  const std::string what =
      a.positional.empty() ? mien_bench::scene_path(MIEN_SOURCE_DIR) + " cover-cropped to 640x480"
                           : a.positional[0];
  PipelineModels models = load_models(a);
  if (a.no_age) models.age = Model{};
  const Pipeline pipeline(models);
  PipelineOptions opt;
  opt.detect.threads = a.threads;

  const std::vector<FaceResult> found = pipeline.analyze(img, opt);
  std::vector<Detection> faces;
  for (const FaceResult& f : found) faces.push_back(f.face);

  // The tensors the pipeline builds, for the model-only timings (and for peers).
  const FaceDetector& det = pipeline.detector();
  const InputSpec& di = det.input();
  Tensor det_in(Shape(1, di.height, di.width, di.channels()));
  letterbox_to_tensor(img, di.width, di.height, di.color, di.scale.data(), di.offset.data(),
                      det_in.data());
  auto crops_for = [&](const Model& m) {
    const FaceClassifier c(m);
    const InputSpec& ci = c.input();
    Tensor t(Shape(std::max<int>(1, int(faces.size())), ci.height, ci.width, ci.channels()));
    const int64_t per = int64_t(ci.height) * ci.width * ci.channels();
    for (std::size_t i = 0; i < faces.size(); ++i) {
      warp_crop_to_tensor(img, c.crop_window(faces[i]), ci.width, ci.height, ci.color,
                          ci.scale.data(), ci.offset.data(), c.crop_geometry().fill,
                          t.data() + int64_t(i) * per);
    }
    return t;
  };
  const Tensor emo_in = crops_for(models.emotion[0]);
  const Tensor gen_in = crops_for(models.gender);
  const bool fe = models.emotion.size() > 1;
  const Tensor fe_in = fe ? crops_for(models.emotion[1]) : Tensor(Shape(1, 1, 1, 1));
  if (!a.out.empty()) {
    write_npy(a.out + ".blazeface.npy", det_in.view());
    write_npy(a.out + ".emotion.npy", emo_in.view());
    write_npy(a.out + ".gender.npy", gen_in.view());
    if (fe) write_npy(a.out + ".face_expression.npy", fe_in.view());
  }

  const Timing t_all = time_it([&] { pipeline.analyze(img, opt); }, a.timing);
  const Timing t_det = time_it([&] { det.detect(img, opt.detect); }, a.timing);
  const Timing t_cls = time_it([&] { pipeline.classify(img, faces, opt); }, a.timing);
  Session s_det(models.detector, a.threads), s_emo(models.emotion[0], a.threads),
      s_gen(models.gender, a.threads);
  const Timing m_det = time_it([&] { s_det.run(det_in.view()); }, a.timing);
  const Timing m_emo = time_it([&] { s_emo.run(emo_in.view()); }, a.timing);
  const Timing m_gen = time_it([&] { s_gen.run(gen_in.view()); }, a.timing);
  Timing m_fe;
  if (fe) {
    Session s_fe(models.emotion[1], a.threads);
    m_fe = time_it([&] { s_fe.run(fe_in.view()); }, a.timing);
  }
  const double model_sum = m_det.median_ms + m_emo.median_ms + m_gen.median_ms + m_fe.median_ms;

  std::printf("%s (%dx%d), isa %s, threads %d: %zu faces\n", what.c_str(), img.width, img.height,
              isa_name(models.detector.isa()), a.threads, faces.size());
  std::printf("  analyze            %8.3f ms  (%d runs; min %.3f, mean %.3f, cpu %.3f ms)\n",
              t_all.median_ms, t_all.iters, t_all.min_ms, t_all.mean_ms, t_all.cpu_ms);
  std::printf("  detect only        %8.3f ms\n", t_det.median_ms);
  std::printf("  classify only      %8.3f ms  (%s + gender, %zu faces)\n", t_cls.median_ms,
              fe ? "emotion ensemble" : "emotion", faces.size());
  std::printf("  blazeface model    %8.3f ms  %s\n", m_det.median_ms, det_in.shape().str().c_str());
  std::printf("  emotion model      %8.3f ms  %s\n", m_emo.median_ms, emo_in.shape().str().c_str());
  std::printf("  gender model       %8.3f ms  %s\n", m_gen.median_ms, gen_in.shape().str().c_str());
  if (fe)
    std::printf("  face_expression    %8.3f ms  %s (without the mirror crops of unsure faces)\n",
                m_fe.median_ms, fe_in.shape().str().c_str());
  std::printf("  sum of models      %8.3f ms  (pre/post-processing: %.3f ms)\n", model_sum,
              t_all.median_ms - model_sum);
  std::printf(
      "RESULT {\"runtime\":\"mien\",\"mode\":\"pipeline\",\"image\":\"%s\",\"width\":%d,"
      "\"height\":%d,\"isa\":\"%s\",\"threads\":%d,\"faces\":%zu,\"analyze_ms\":%.6f,"
      "\"detect_ms\":%.6f,\"classify_ms\":%.6f,\"blazeface_ms\":%.6f,\"emotion_ms\":%.6f,"
      "\"gender_ms\":%.6f,\"models_ms\":%.6f,\"analyze_min_ms\":%.6f,"
      "\"analyze_mean_ms\":%.6f,\"analyze_cpu_ms\":%.6f,\"blazeface_cpu_ms\":%.6f,\"emotion_cpu_"
      "ms\":%.6f,"
      "\"gender_cpu_ms\":%.6f,\"age\":%s%s}\n",
      what.c_str(), img.width, img.height, isa_name(models.detector.isa()), a.threads, faces.size(),
      t_all.median_ms, t_det.median_ms, t_cls.median_ms, m_det.median_ms, m_emo.median_ms,
      m_gen.median_ms, model_sum, t_all.min_ms, t_all.mean_ms, t_all.cpu_ms, m_det.cpu_ms,
      m_emo.cpu_ms, m_gen.cpu_ms, pipeline.has_age() ? "true" : "false",
      fe ? (",\"ensemble\":true,\"face_expression_ms\":" + std::to_string(m_fe.median_ms) +
            ",\"face_expression_cpu_ms\":" + std::to_string(m_fe.cpu_ms))
               .c_str()
         : ",\"ensemble\":false");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(s + " needs a value");
      return argv[++i];
    };
    try {
      if (s == "--threads")
        a.threads = std::stoi(value());
      else if (s == "--isa")
        a.isa = value();
      else if (s == "--batch")
        a.batch = std::stoi(value());
      else if (s == "--seconds")
        a.timing.seconds = std::stod(value());
      else if (s == "--min-iters")
        a.timing.min_iters = std::stoi(value());
      else if (s == "--warmup")
        a.timing.warmup = std::stoi(value());
      else if (s == "--out")
        a.out = value();
      else if (s == "--weights")
        a.weights = value();
      else if (s == "--top")
        a.top = std::stoi(value());
      else if (s == "--profile")
        a.profile = true;
      else if (s == "--pipeline")
        a.pipeline = true;
      else if (s == "--fast")
        a.fast = true;
      else if (s == "--no-age")
        a.no_age = true;
      else if (s == "-h" || s == "--help")
        usage();
      else if (!s.empty() && s[0] == '-')
        usage("unknown option " + s);
      else
        a.positional.push_back(s);
    } catch (const std::logic_error&) {
      usage("bad value for " + s);
    }
  }
  if (a.threads < 1 || a.timing.min_iters < 1 || a.timing.seconds < 0 || a.batch < 0 || a.top < 0)
    usage("numbers out of range");
  try {
    return a.pipeline ? run_pipeline(a) : run_model(a);
  } catch (const Error& e) {
    std::fprintf(stderr, "mien_time: %s\n", e.what());
    return 1;
  }
}
