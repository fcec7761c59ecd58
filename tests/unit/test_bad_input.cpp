// Bad input to the library (issue #11): models whose metadata or weights are wrong, files
// that are not what they claim, image headers larger than their files, CSV records with
// quoted line breaks. Each must be a mien::Error naming the file (and key, layer or test
// vector), never a crash, a huge allocation or a silently different answer.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "mien/eval/evaluate.hpp"
#include "mien/model/check.hpp"
#include "mien/model/format.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"
#include "test_util.hpp"

using namespace mien;

namespace {

std::string weights(const std::string& name) {
  return std::string(MIEN_SOURCE_DIR) + "/weights/" + name;
}

using mien::test::error_of;

using mien::test::contains;

// A shipped model with some metadata changed, loaded under the name `origin`.
template <typename Edit>
Model edited(const std::string& file, const std::string& origin, Edit&& edit) {
  MienFile f = read_mien(weights(file));
  edit(f);
  const std::vector<uint8_t> bytes = serialize_mien(f);
  ModelOptions o;
  o.test_vectors = true;  // some cases run check_test_vectors
  return Model::from_memory(bytes.data(), bytes.size(), origin, o);
}

Model with_meta(const std::string& file, const std::string& key, MetaValue v) {
  return edited(file, "bad_" + file, [&](MienFile& f) { f.meta.set(key, v); });
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("bad input: a model's task must match its role in the pipeline") {
  const Model detector = Model::load(weights("blazeface.mien"));
  const Model emotion = Model::load(weights("emotion.mien"));
  const Model gender = Model::load(weights("gender.mien"));
  PipelineModels ok{detector, {emotion}, gender};
  CHECK_NOTHROW(Pipeline{ok});

  PipelineModels swapped{detector, {gender}, emotion};  // --emotion gender.mien
  const std::string e = error_of([&] { Pipeline p(swapped); });
  CHECK(contains(e, "gender.mien"));
  CHECK(contains(e, "model.task"));
  PipelineModels gender_is_emotion{detector, {emotion}, emotion};  // --gender emotion.mien
  const std::string g = error_of([&] { Pipeline p(gender_is_emotion); });
  CHECK(contains(g, "emotion.mien"));
  CHECK(contains(g, "not a gender model"));
  PipelineModels detector_as_emotion{detector, {detector}, gender};
  CHECK(contains(error_of([&] { Pipeline p(detector_as_emotion); }), "blazeface.mien"));
  PipelineModels emotion_as_detector{emotion, {emotion}, gender};
  CHECK(contains(error_of([&] { Pipeline p(emotion_as_detector); }), "model.task"));
}

TEST_CASE("bad input: detector and input metadata out of range name the file and the key") {
  struct Case {
    const char* key;
    MetaValue value;
  };
  const std::vector<Case> cases = {
      {"detector.nms_iou", kNaN},
      {"detector.nms_iou", 2.0},
      {"detector.nms_iou", -1.0},
      {"detector.threshold", -1.0},
      {"detector.threshold", 2.0},
      {"detector.threshold", kNaN},
      {"detector.score", std::string("softmax")},
      {"detector.box_scale", kInf},
      {"detector.anchor_offset", kNaN},
      {"detector.keypoints", int64_t(-3)},
      {"input.scale", std::vector<double>{kInf}},
      {"input.offset", std::vector<double>{kNaN}},
      {"input.scale", std::vector<double>{1e300}},
      {"input.resize", std::string("crop")},
      {"input.color", std::string("cmyk")},
      {"detector.nms_iou", std::string("0.3")},  // wrong type
  };
  for (const Case& c : cases) {
    CAPTURE(c.key);
    CAPTURE(format_value(c.value));
    const Model m = with_meta("blazeface.mien", c.key, c.value);
    const std::string e = error_of([&] { FaceDetector d(m); });
    CHECK(contains(e, "bad_blazeface.mien"));
    CHECK(contains(e, c.key));
  }
  // The shipped values load.
  CHECK_NOTHROW(FaceDetector(Model::load(weights("blazeface.mien"))));
}

TEST_CASE("bad input: classifier metadata: sizes are not truncated, labels are checked") {
  // 2^40 used to be narrowed to int and reported as "0x64".
  const Model huge = with_meta("emotion.mien", "input.height", int64_t(1) << 40);
  const std::string e = error_of([&] { FaceClassifier c(huge); });
  CHECK(contains(e, "bad_emotion.mien"));
  CHECK(contains(e, "input.height"));
  CHECK(contains(e, "1099511627776"));

  const std::vector<std::string> fer = fer_labels();
  std::vector<std::string> twice = fer;
  twice[1] = "Anger";  // the same label as "angry" after synonyms
  CHECK(contains(
      error_of([&] { FaceClassifier c(with_meta("emotion.mien", "model.labels", twice)); }),
      "twice"));
  std::vector<std::string> alien = fer;
  alien[6] = "woman";
  const std::string a =
      error_of([&] { FaceClassifier c(with_meta("emotion.mien", "model.labels", alien)); });
  CHECK(contains(a, "model.labels"));
  CHECK(contains(a, "woman"));
  CHECK(contains(error_of([&] {
                   FaceClassifier c(with_meta("gender.mien", "model.labels",
                                              std::vector<std::string>{"woman", "happy"}));
                 }),
                 "not a gender label"));
  CHECK(contains(error_of([&] { FaceClassifier c(with_meta("emotion.mien", "crop.scale", kNaN)); }),
                 "crop.scale"));
  CHECK(
      contains(error_of([&] { FaceClassifier c(with_meta("emotion.mien", "crop.shift_y", kInf)); }),
               "crop.shift_y"));
}

TEST_CASE("bad input: NaN weights are an error naming the first layer that produced NaN") {
  std::string first_weight;
  std::string node;
  const Model m = edited("emotion.mien", "nan_emotion.mien", [&](MienFile& f) {
    const GraphDef g = graph_from_file(f, "emotion.mien");
    // The last node with weights: earlier layers stay finite, so the culprit is precise.
    for (const NodeDef& n : g.nodes)
      for (auto& t : f.tensors)
        if (t.first == n.name + "/weight") {
          node = n.name;
          first_weight = t.first;
        }
    REQUIRE(!first_weight.empty());
    for (float& v : f.tensors[first_weight].data) v = std::numeric_limits<float>::quiet_NaN();
  });
  CAPTURE(node);
  Session s(m);
  Tensor face(Shape(1, 64, 64, 1));
  for (float& v : face) v = 0.1f;
  const std::string e = error_of([&] { s.run(face.view()); });
  CHECK(contains(e, "nan_emotion.mien"));
  CHECK(contains(e, "node '" + node + "'"));
  CHECK(contains(e, "NaN"));
  // Batches (run image by image) are checked too.
  Tensor batch(Shape(3, 64, 64, 1));
  for (float& v : batch) v = 0.1f;
  Session s3(m, 2);
  CHECK(contains(error_of([&] { s3.run(batch.view()); }), "node '" + node + "'"));
  // `mien check` used to report "max abs error 0" here.
  CHECK(contains(error_of([&] { check_test_vectors(m); }), "node '" + node + "'"));
  // On request, the raw outputs.
  Session raw(m);
  raw.set_check_finite(false);
  const ConstTensorView out = raw.run(face.view());
  CHECK(std::isnan(out.data[0]));

  // A NaN input is named as such, not blamed on a layer.
  Session good(Model::load(weights("emotion.mien")));
  face.data()[5] = std::numeric_limits<float>::quiet_NaN();
  const std::string in = error_of([&] { good.run(face.view()); });
  CHECK(contains(in, "input '"));
  CHECK(contains(in, "emotion.mien"));
}

TEST_CASE("bad input: a wrong input shape names the model file") {
  Session s(Model::load(weights("gender.mien")));
  Tensor wrong(Shape(1, 32, 32, 3));
  const std::string e = error_of([&] { s.run(wrong.view()); });
  CHECK(contains(e, "gender.mien"));
  CHECK(contains(e, "1x32x32x3"));
}

TEST_CASE("bad input: a bad test vector or tolerance names the file and the vector") {
  const Model m = edited("gender.mien", "vec_gender.mien", [](MienFile& f) {
    for (auto& t : f.tensors)
      if (t.first.rfind("test.0.input.", 0) == 0) {
        t.second.dims = {1, 32, 32, 1};
        t.second.data.assign(32 * 32, 0.5f);
      }
  });
  const std::string e = error_of([&] { check_test_vectors(m); });
  CHECK(contains(e, "vec_gender.mien"));
  CHECK(contains(e, "test vector 0"));
  for (double tol : {kInf, kNaN, -1.0}) {
    CAPTURE(tol);
    CHECK(contains(error_of([&] { with_meta("gender.mien", "test.tolerance", tol); }),
                   "test.tolerance"));
  }
}

TEST_CASE("bad input: a folder or a device given as a model file") {
  // tellg() on a folder returned LLONG_MAX and the loader tried to allocate 8 EiB.
  const std::string e = error_of([] { Model::load(MIEN_SOURCE_DIR "/weights"); });
  CHECK(contains(e, "weights"));
  CHECK(contains(e, "folder"));
  // A character device has no size: read to its end (here: empty, so not a model).
  const std::string n = error_of([] { Model::load("/dev/null"); });
  CHECK(contains(n, "/dev/null"));
}

namespace {

using Bytes = std::vector<uint8_t>;

void put_u32be(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

Bytes small_png() {
  Image img(5, 4, {200, 100, 50});
  return encode_image(img, "png");
}

}  // namespace

TEST_CASE("bad input: image headers larger than their file can encode") {
  // 44 bytes declaring a 65535x1525 GIF canvas (100 megapixels: 697 MB and 4.7 s before).
  const Bytes gif = {'G',  'I',  'F',  '8',  '9',  'a',  0xFF, 0xFF, 0xF5, 0x05, 0x00,
                     0x00, 0x00, 0x2C, 0,    0,    0,    0,    1,    0,    1,    0,
                     0,    0x02, 0x02, 0x44, 0x01, 0x00, ';',  0,    0,    0,    0,
                     0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0};
  REQUIRE(gif.size() == 44);
  CHECK(contains(error_of([&] { decode_image(gif.data(), gif.size(), "canvas.gif"); }),
                 "exceeds the limit"));  // the default limit, 50 MP
  DecodeLimits all;
  all.max_pixels = MIEN_MAX_IMAGE_PIXELS;
  const std::string g = error_of([&] { decode_image(gif.data(), gif.size(), "canvas.gif", all); });
  CHECK(contains(g, "canvas.gif"));
  CHECK(contains(g, "more than GIF can encode"));

  // A baseline JPEG of 8x8 whose frame header says 640x41473 (26.5 MP from ~600 bytes).
  Image small(8, 8, {128, 128, 128});
  Bytes jpg = encode_image(small, "jpg");
  bool patched = false;
  for (std::size_t i = 2; i + 9 < jpg.size() && !patched; ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
      jpg[i + 5] = 0xA2, jpg[i + 6] = 0x01;  // height 41473
      jpg[i + 7] = 0x02, jpg[i + 8] = 0x80;  // width 640
      patched = true;
    }
  REQUIRE(patched);
  const std::string j = error_of([&] { decode_image(jpg.data(), jpg.size(), "tall.jpg"); });
  CHECK(contains(j, "tall.jpg"));
  CHECK(contains(j, "more than JPEG can encode"));

  // The default pixel limit (50 MP) applies before decoding, and can be changed.
  const Bytes png = small_png();
  CHECK_NOTHROW(decode_image(png.data(), png.size(), "ok.png"));
  DecodeLimits tiny;
  tiny.max_pixels = 19;
  const std::string t = error_of([&] { decode_image(png.data(), png.size(), "ok.png", tiny); });
  CHECK(contains(t, "exceeds the limit of 19 pixels"));
  tiny.max_pixels = 20;
  CHECK_NOTHROW(decode_image(png.data(), png.size(), "ok.png", tiny));
}

TEST_CASE("bad input: PNM header numbers too long for an int (found by fuzz_image)") {
  // stb multiplied 888888888 by 10 in an int (signed overflow) while reading the width.
  const std::string pnm = "P588888888888888888\n\xb3 2\n2\xff\x0f 2\n";
  const std::string e = error_of(
      [&] { decode_image(reinterpret_cast<const uint8_t*>(pnm.data()), pnm.size(), "wide.pnm"); });
  CHECK(contains(e, "wide.pnm"));
  CHECK(contains(e, "corrupt PNM header"));
  const std::string ok = "P5\n# comment 12345678901\n2 1\n255\n\x10\x20";
  const Image img = decode_image(reinterpret_cast<const uint8_t*>(ok.data()), ok.size(), "ok.pgm");
  CHECK(img.width == 2);
}

TEST_CASE("bad input: 16-bit gray PNM decodes without stb's buffer overrun (found by fuzz_image)") {
  // maxval 300: two bytes a sample. stb 2.27 expanded it to RGB with its 8-bit routine and
  // then read 2x the buffer (ASan heap-buffer-overflow); gray is now expanded by mien.
  const std::string pgm = std::string("P5 2 1 300\n") + std::string("\x01\x2c\x00\x96", 4);
  const Image img =
      decode_image(reinterpret_cast<const uint8_t*>(pgm.data()), pgm.size(), "deep.pgm");
  REQUIRE(img.width == 2);
  REQUIRE(img.height == 1);
  CHECK(img.rgb[1] == img.rgb[0]);  // gray replicated
  CHECK(img.rgb[2] == img.rgb[0]);
  CHECK(img.rgb[5] == img.rgb[3]);
  CHECK(img.rgb[0] != img.rgb[3]);
}

TEST_CASE("bad input: a JPEG with fill bytes before its SOI is checked as a JPEG (fuzz_image)") {
  // stb skips 0xFF fill before a marker, so "FF FF FF D8 ..." is a JPEG to it; mien took it
  // for an unknown format and skipped its Huffman table check (stb then wrote past a
  // 257-entry table). Now the bad table is found.
  const std::string path =
      std::string(MIEN_SOURCE_DIR) + "/tests/fuzz/corpus/image/jpeg_fill_before_soi.jpg";
  std::ifstream in(path, std::ios::binary);
  const Bytes jpg((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(jpg.size() > 100);
  REQUIRE(jpg[0] == 0xFF);
  REQUIRE(jpg[1] == 0xFF);
  const std::string e = error_of([&] { decode_image(jpg.data(), jpg.size(), "fill.jpg"); });
  CHECK(contains(e, "fill.jpg"));
  CHECK(contains(e, "JPEG"));
  // A valid JPEG with fill bytes before its SOI still decodes.
  Bytes good = encode_image(Image(8, 8, {90, 90, 90}), "jpg");
  good.insert(good.begin(), 3, 0xFF);
  CHECK(decode_image(good.data(), good.size(), "good.jpg").width == 8);
}

TEST_CASE("bad input: a PNG chunk longer than the file is refused before stb allocates it") {
  // fuzz_image: a 279-byte PNG whose third IDAT claims 1.2 GB made stb grow its buffer to
  // 2 GB before finding the data missing. The chunk walk refuses it first.
  const std::string path =
      std::string(MIEN_SOURCE_DIR) + "/tests/fuzz/corpus/image/png_idat_claims_1gb.png";
  std::ifstream in(path, std::ios::binary);
  const Bytes png((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(png.size() == 279);
  const std::string e = error_of([&] { decode_image(png.data(), png.size(), "huge.png"); });
  CHECK(contains(e, "huge.png"));
  CHECK(contains(e, "chunk IDAT at byte 163 claims 1224736874 bytes"));
  // A valid PNG cut inside its IDAT is refused the same way; with bytes after IEND it decodes.
  const Bytes good = small_png();
  const Bytes cut(good.begin(), good.end() - 20);
  CHECK(contains(error_of([&] { decode_image(cut.data(), cut.size(), "cut.png"); }), "claims"));
  Bytes trailing = good;
  trailing.insert(trailing.end(), {0xFF, 0xFF, 0xFF, 0xFF, 'J', 'U', 'N', 'K'});
  CHECK(decode_image(trailing.data(), trailing.size(), "trailing.png").width ==
        decode_image(good.data(), good.size(), "good.png").width);
}

TEST_CASE("bad input: a zero-length PNG IDAT chunk is dropped before stb sees it") {
  // stb copied it with memcpy(NULL, p, 0): undefined behaviour (UBSan aborts, see the
  // image fuzz target's seed corpus).
  const Bytes png = small_png();
  Bytes with_empty;
  for (std::size_t p = 8; p + 12 <= png.size();) {
    const uint32_t len = (uint32_t(png[p]) << 24) | (uint32_t(png[p + 1]) << 16) |
                         (uint32_t(png[p + 2]) << 8) | png[p + 3];
    if (std::string(png.begin() + std::ptrdiff_t(p + 4), png.begin() + std::ptrdiff_t(p + 8)) ==
        "IDAT") {
      with_empty.assign(png.begin(), png.begin() + std::ptrdiff_t(p));
      put_u32be(with_empty, 0);
      for (char c : std::string("IDAT")) with_empty.push_back(uint8_t(c));
      put_u32be(with_empty, 0x35AF061E);  // CRC-32 of "IDAT"
      with_empty.insert(with_empty.end(), png.begin() + std::ptrdiff_t(p), png.end());
      break;
    }
    p += 12 + len;
  }
  REQUIRE(with_empty.size() == png.size() + 12);
  Bytes stripped;
  CHECK(detail::strip_empty_png_idat(with_empty.data(), with_empty.size(), stripped));
  CHECK(stripped == png);
  const Image a = decode_image(png.data(), png.size(), "a.png");
  const Image b = decode_image(with_empty.data(), with_empty.size(), "b.png");
  CHECK(a.rgb == b.rgb);
  // Cut off inside the empty IDAT's CRC (found by fuzz_image: stb reads length and type,
  // then copies 0 bytes to NULL): still dropped; the file is then an error, not UB.
  Bytes cut(with_empty.begin(), with_empty.begin() + 33 + 11);
  CHECK(detail::strip_empty_png_idat(cut.data(), cut.size(), stripped));
  CHECK(stripped.size() == 33);
  CHECK(contains(error_of([&] { decode_image(cut.data(), cut.size(), "cut.png"); }), "cut.png"));
}

TEST_CASE("bad input: CSV records with quoted line breaks") {
  const std::string path = "/tmp/mien_test_csv_newline_" + std::to_string(::getpid()) + ".csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "image,label\r\n\"two\r\nlines.png\",happy\r\nplain.png,sad\r\n\"never closed,x\n";
  }
  detail::CsvReader r(path);
  std::vector<std::string> f;
  REQUIRE(r.next(f));
  REQUIRE(r.next(f));
  REQUIRE(f.size() == 2);
  CHECK(f[0] == "two\nlines.png");
  CHECK(f[1] == "happy");
  REQUIRE(r.next(f));
  CHECK(f[0] == "plain.png");
  CHECK(r.line() == 4);
  const std::string e = error_of([&] { r.next(f); });
  CHECK(contains(e, path + ":5"));
  CHECK(contains(e, "unterminated quote"));
  std::remove(path.c_str());
}
