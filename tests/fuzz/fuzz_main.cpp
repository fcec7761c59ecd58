// libFuzzer targets for everything mien reads from outside, in one binary (one compile of
// the headers with sanitizers instead of three). MIEN_FUZZ chooses the target:
//   model    bytes -> Model::from_memory -> one run on a small input
//   image    bytes -> decode_image (default limits)
//   dataset  first byte picks the reader (0 image,label CSV, 1 FER-2013 CSV, 2 FER+ labels,
//            3 auto-detected), the rest is the file
// Any mien::Error is a correct answer; a crash, a sanitizer report, a leak, a timeout or
// another exception is a bug. Built by tests/CMakeLists.txt with clang++ when available:
//   MIEN_FUZZ=image build/tests/mien_fuzz tests/fuzz/corpus/image
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mien/eval/readers.hpp"
#include "mien/model/format.hpp"
#include "mien/model/session.hpp"
#include "mien/vision/image.hpp"

namespace {

enum class Target { Model, Image, Dataset };

Target target() {
  static const Target t = [] {
    const char* e = std::getenv("MIEN_FUZZ");
    const std::string s = e ? e : "";
    if (s == "model") return Target::Model;
    if (s == "image") return Target::Image;
    if (s == "dataset") return Target::Dataset;
    std::fprintf(stderr, "set MIEN_FUZZ to model, image or dataset\n");
    std::exit(2);
  }();
  return t;
}

void fuzz_model(const uint8_t* data, std::size_t size) {
  // The CRC-32 in the header would reject nearly every mutation before the parser sees
  // it: recompute it (and the file size field), so that the fuzzer explores what lies
  // behind. The CRC check itself is covered by test_format.cpp.
  std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() >= 64) {
    const uint64_t n = bytes.size();
    std::memcpy(bytes.data() + 16, &n, 8);
    const uint32_t crc = mien::crc32(bytes.data() + 12, bytes.size() - 12);
    std::memcpy(bytes.data() + 8, &crc, 4);
  }
  const mien::Model model = mien::Model::from_memory(bytes.data(), bytes.size(), "fuzz.mien");
  // Run small inputs only: the point is the loader and the ops' shape logic, not big MACs.
  std::vector<mien::Shape> shapes = model.nominal_input_shapes(8);
  for (const mien::Shape& s : shapes)
    if (s.size() > 64 * 64 * 8) return;
  if (model.macs(shapes) > 20'000'000) return;
  std::vector<mien::Tensor> inputs;
  std::vector<mien::ConstTensorView> views;
  for (const mien::Shape& s : shapes) {
    inputs.emplace_back(s);
    float v = 0.f;
    for (float& x : inputs.back()) x = (v += 0.37f) > 1.f ? (v -= 2.f) : v;
  }
  for (const mien::Tensor& t : inputs) views.push_back(t.view());
  mien::Session session(model);
  session.run(views);
}

void fuzz_image(const uint8_t* data, std::size_t size) {
  const mien::Image img = mien::decode_image(data, size, "fuzz.img");
  if (img.rgb.size() != std::size_t(img.width) * std::size_t(img.height) * 3) std::abort();
}

void fuzz_dataset(const uint8_t* data, std::size_t size) {
  if (size < 1) return;
  static const std::string path = "/tmp/mien_fuzz_dataset_" + std::to_string(::getpid()) + ".csv";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  std::fwrite(data + 1, 1, size - 1, f);
  std::fclose(f);
  mien::DatasetOptions opt;
  opt.images_dir = "/nonexistent";  // image rows must not reach real files
  switch (data[0] % 4) {
    case 0:
      opt.format = mien::DatasetFormat::ImageLabelCsv;
      break;
    case 1:
      opt.format = mien::DatasetFormat::Fer2013;
      break;
    case 2:
      opt.format = mien::DatasetFormat::FerPlus;
      break;
    default:
      break;
  }
  const mien::Dataset ds = mien::read_dataset(path, opt);
  // Inline pixels must decode as the reader promised.
  for (const mien::LabelledImage& s : ds.samples)
    if (s.path.empty()) mien::load_labelled_image(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    switch (target()) {
      case Target::Model:
        fuzz_model(data, size);
        break;
      case Target::Image:
        fuzz_image(data, size);
        break;
      case Target::Dataset:
        fuzz_dataset(data, size);
        break;
    }
  } catch (const mien::Error&) {
    // A clear error is the right answer to bad input.
  }
  return 0;
}
