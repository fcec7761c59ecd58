// The command line as a user meets it: help, exit codes, model info/check, image analysis
// with JSON and drawing, and clear errors (exit 1, never a crash) for bad input.
#include <fstream>
#include <random>
#include <sstream>

#include "cli_util.hpp"
#include "mien/mien.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"
#include "test_util.hpp"

using namespace mien;
using test::mien_cli;
using test::quote;
using test::source_path;

namespace {
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("cli: help and usage errors") {
  CHECK(mien_cli("--help").status == 0);
  CHECK(mien_cli("--help").out.find("image") != std::string::npos);
  for (const char* cmd : {"info", "check", "image"}) {
    const auto r = mien_cli(std::string(cmd) + " --help");
    CHECK(r.status == 0);
    CHECK(r.out.find("usage: mien") != std::string::npos);
  }
  CHECK(mien_cli("").status == 2);
  CHECK(mien_cli("frobnicate").status == 2);
  CHECK(mien_cli("info --no-such-option x").status == 2);
  CHECK(mien_cli("info").status == 2);
  CHECK(mien_cli("image").status == 2);
  const std::string img = quote(source_path("tests/data/scenes/astronaut.jpg"));
  CHECK(mien_cli("image --threshold 2 " + img).status == 2);
  CHECK(mien_cli("image --threads 0 " + img).status == 2);
  CHECK(mien_cli("image --tiles sometimes " + img).status == 2);
}

TEST_CASE("cli: info and check on the shipped models") {
  const auto info = mien_cli("info " + quote(source_path("weights/emotion.mien")));
  CHECK(info.status == 0);
  CHECK(info.out.find("parameters") != std::string::npos);
  // The layers as they run: each separable conv is one depthwise_pointwise step.
  CHECK(info.out.find("depthwise_pointwise") != std::string::npos);
  CHECK(info.out.find("model.labels") != std::string::npos);
  // The layer table stays aligned: every row's cells start where the header's do, even
  // with an op type as long as depthwise_pointwise and 46-character layer names.
  {
    std::vector<std::string> table;
    std::istringstream lines(info.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("  # ", 0) == 0) {
        table = {line};
      } else if (!table.empty() && line.rfind("  layers ", 0) == 0) {
        break;
      } else if (!table.empty()) {
        table.push_back(line);
      }
    }
    REQUIRE(table.size() > 10);
    for (const char* column : {"layer", "op", "parameters", "output"}) {
      const std::size_t at = table[0].find(std::string(" ") + column + " ") + 1;
      REQUIRE(at > 1);
      for (const std::string& row : table) {
        CAPTURE(row);
        CHECK(row.size() > at);
        CHECK(row[at - 1] == ' ');
        if (std::string(column) != "parameters") CHECK(row[at] != ' ');  // add has none
      }
    }
  }
  for (const char* m : {"blazeface", "emotion", "gender", "face_expression", "age"}) {
    CAPTURE(m);
    const auto r = mien_cli("check " + quote(source_path(std::string("weights/") + m + ".mien")));
    CHECK(r.status == 0);
    CHECK(r.out.find(": ok") != std::string::npos);
  }
}

TEST_CASE("cli: quantize writes an int8 classifier that check, info and image accept") {
  const std::string dir = test::temp_dir("quantize");
  const std::string out = dir + "/emotion_int8.mien";
  const std::string faces = source_path("tests/data/faces");
  const auto q = mien_cli("quantize " + quote(source_path("weights/emotion.mien")) +
                          " --calibrate " + quote(faces) + " --crops all -o " + quote(out));
  INFO(q.out);
  REQUIRE(q.status == 0);
  CHECK(q.out.find("7 of 9 conv layers in int8") != std::string::npos);
  CHECK(q.out.find("calibrated on 8 images") != std::string::npos);
  // big-XCEPTION: block1_conv2 (after block1_conv1) and the four separable pointwise convs.
  CHECK(q.out.find("equalized (alpha 1) for 5 int8 convs") != std::string::npos);
  const auto check = mien_cli("check " + quote(out));
  CHECK(check.status == 0);
  const auto info = mien_cli("info " + quote(out));
  CHECK(info.out.find("qconv2d") != std::string::npos);
  CHECK(info.out.find("quant.calibration_images") != std::string::npos);
  const auto img = mien_cli("image --json --no-gender --emotion " + quote(out) + " " +
                            quote(source_path("tests/data/scenes/faceapi_sample1.jpg")));
  CHECK(img.status == 0);
  CHECK(img.out.find("\"emotion\"") != std::string::npos);

  // Refusals: a detector, an int8 model, a missing folder, missing options.
  const auto det = mien_cli("quantize " + quote(source_path("weights/blazeface.mien")) +
                            " --calibrate " + quote(faces) + " -o " + quote(dir + "/d.mien"));
  CHECK(det.status == 1);
  CHECK(det.out.find("model.task") != std::string::npos);
  const auto again = mien_cli("quantize " + quote(out) + " --calibrate " + quote(faces) + " -o " +
                              quote(dir + "/again.mien"));
  CHECK(again.status == 1);
  CHECK(again.out.find("already quantized") != std::string::npos);
  const auto nodir =
      mien_cli("quantize " + quote(source_path("weights/emotion.mien")) + " --calibrate " +
               quote(dir + "/nope") + " -o " + quote(dir + "/x.mien"));
  CHECK(nodir.status == 1);
  CHECK(nodir.out.find("not a folder") != std::string::npos);
  CHECK(mien_cli("quantize " + quote(source_path("weights/emotion.mien")) + " -o " +
                 quote(dir + "/x.mien"))
            .status == 2);
  CHECK(mien_cli("quantize " + quote(source_path("weights/emotion.mien")) + " --calibrate " +
                 quote(faces))
            .status == 2);
  for (const char* bad : {"1.5", "-0.1", "x", ""})
    CHECK(mien_cli("quantize " + quote(source_path("weights/emotion.mien")) + " --calibrate " +
                   quote(faces) + " --equalize '" + bad + "' -o " + quote(dir + "/e.mien"))
              .status == 2);
  std::system(("rm -rf " + quote(dir)).c_str());
}

TEST_CASE("cli: info --size HxW sets height and width of a model that accepts any size") {
  // --size used to take H for both sides.
  GraphBuilder b;
  const std::string x = b.input("image", -1, -1, 3);
  const std::string y = b.max_pool(x, 2, 2);
  const std::string path = test::temp_dir("info_size") + "/any_size.mien";
  write_mien(path, graph_to_file(b.build({y})));
  const auto r = mien_cli("info --size 32x48 " + quote(path));
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.out.find("1x16x24x3") != std::string::npos);  // output of a 2x2/2 pool on 32x48
  CHECK(r.out.find("1x16x16x3") == std::string::npos);
}

TEST_CASE("cli: check fails on a wrong reference and on damaged files") {
  const std::string dir = test::temp_dir("check");
  MienFile f = read_mien(source_path("weights/gender.mien"));
  // Swap the reference probabilities of the first test vector: mien must notice.
  FileTensor& ref = f.tensors.at("test.0.output." + f.meta.get_strings("graph.outputs")[0]);
  std::swap(ref.data[0], ref.data[1]);
  write_mien(dir + "/wrong.mien", f);
  const auto wrong = mien_cli("check " + quote(dir + "/wrong.mien"));
  CHECK(wrong.status == 1);
  CHECK(wrong.out.find("FAIL") != std::string::npos);

  const std::string good = read_bytes(source_path("weights/gender.mien"));
  write_bytes(dir + "/truncated.mien", good.substr(0, good.size() / 2));
  const auto trunc = mien_cli("check " + quote(dir + "/truncated.mien"));
  CHECK(trunc.status == 1);
  CHECK(trunc.out.find("truncated.mien") != std::string::npos);

  std::string flipped = good;
  flipped[flipped.size() / 3] ^= 0x10;
  write_bytes(dir + "/flipped.mien", flipped);
  const auto flip = mien_cli("info " + quote(dir + "/flipped.mien"));
  CHECK(flip.status == 1);
  CHECK(flip.out.find("checksum") != std::string::npos);

  CHECK(mien_cli("info " + quote(dir + "/missing.mien")).status == 1);
  write_bytes(dir + "/empty.mien", "");
  CHECK(mien_cli("check " + quote(dir + "/empty.mien")).status == 1);
}

TEST_CASE("cli: image --json gives one object per image with the documented fields") {
  const std::string a = source_path("tests/data/scenes/astronaut.jpg");
  const std::string b = source_path("tests/data/scenes/faceapi_sample1.jpg");
  const auto r = mien_cli("image --json " + quote(a) + " " + quote(b));
  REQUIRE(r.status == 0);
  CHECK(count(r.out, "\n") == 2);  // JSON lines
  CHECK(count(r.out, "{\"file\":") == 2);
  for (const char* key : {"\"width\":", "\"height\":", "\"faces\":[", "\"box\":[", "\"score\":",
                          "\"landmarks\":[[", "\"emotion\":{\"label\":", "\"scores\":{",
                          "\"angry\":", "\"neutral\":", "\"gender\":{\"label\":", "\"age\":"})
    CHECK_MESSAGE(r.out.find(key) != std::string::npos, key);
  CHECK(count(r.out, "\"box\":") == 4);  // 1 + 3 faces
  const auto no_gender = mien_cli("image --json --no-gender " + quote(a));
  CHECK(no_gender.status == 0);
  CHECK(no_gender.out.find("\"gender\"") == std::string::npos);
  CHECK(count(r.out, "\"age\":") == 4);  // every face
  const auto no_age = mien_cli("image --json --no-age " + quote(b));
  CHECK(no_age.status == 0);
  CHECK(count(no_age.out, "\"box\":") == 3);
  CHECK(no_age.out.find("\"age\"") == std::string::npos);
  CHECK(no_age.out.find("\"gender\":{") != std::string::npos);
  // The table has an age column, and none with --no-age.
  const auto table = mien_cli("image " + quote(b));
  CHECK(table.status == 0);
  CHECK(table.out.find(" age\n") != std::string::npos);
  CHECK(mien_cli("image --no-age " + quote(b)).out.find(" age") == std::string::npos);
}

TEST_CASE("cli: --age takes a model file; a damaged or wrong one is a clear error") {
  const std::string dir = test::temp_dir("age");
  const std::string photo = quote(source_path("tests/data/scenes/astronaut.jpg"));
  const auto ok =
      mien_cli("image --json --age " + quote(source_path("weights/age.mien")) + " " + photo);
  CHECK(ok.status == 0);
  CHECK(ok.out.find("\"age\":") != std::string::npos);
  std::string bytes = read_bytes(source_path("weights/age.mien"));
  bytes.resize(bytes.size() / 2);
  write_bytes(dir + "/cut.mien", bytes);
  const auto cut = mien_cli("image --age " + quote(dir + "/cut.mien") + " " + photo);
  CHECK(cut.status == 1);
  CHECK(cut.out.find("cut.mien") != std::string::npos);
  const auto wrong =
      mien_cli("image --age " + quote(source_path("weights/gender.mien")) + " " + photo);
  CHECK(wrong.status == 1);
  CHECK(wrong.out.find("not an age model") != std::string::npos);
}

TEST_CASE("cli: image --draw writes a decodable image of the same size") {
  const std::string dir = test::temp_dir("draw");
  const std::string in = source_path("tests/data/scenes/faceapi_sample6.jpg");
  const auto r = mien_cli("image --draw " + quote(dir + "/out.png") + " " + quote(in));
  REQUIRE(r.status == 0);
  const Image src = load_image(in), drawn = load_image(dir + "/out.png");
  CHECK(drawn.width == src.width);
  CHECK(drawn.height == src.height);
  CHECK(drawn.rgb != src.rgb);  // something was drawn
  // Several inputs: OUT is a folder with one file per input.
  const auto many = mien_cli("image --draw " + quote(dir + "/many") + " " +
                             quote(source_path("tests/data/scenes")));
  REQUIRE(many.status == 0);
  CHECK(load_image(dir + "/many/astronaut.jpg").width == 512);
  CHECK(load_image(dir + "/many/faceapi_sample5.jpg").width == 640);
}

TEST_CASE("cli: image --draw --landmarks puts a dot on every keypoint") {
  const std::string dir = test::temp_dir("draw_landmarks");
  const std::string in = source_path("tests/data/scenes/faceapi_sample1.jpg");
  REQUIRE(mien_cli("image --draw " + quote(dir + "/plain.png") + " " + quote(in)).status == 0);
  REQUIRE(
      mien_cli("image --landmarks --draw " + quote(dir + "/dots.png") + " " + quote(in)).status ==
      0);
  const Image plain = load_image(dir + "/plain.png"), dots = load_image(dir + "/dots.png");
  const std::vector<FaceResult> faces = Pipeline::with_default_models().analyze(load_image(in));
  REQUIRE(!faces.empty());
  int points = 0, white = 0, white_before = 0;
  auto is_white = [](const Image& img, const Point& k) {
    const uint8_t* p = img.pixel(int(k.x), int(k.y));
    return p[0] == 255 && p[1] == 255 && p[2] == 255;
  };
  for (const FaceResult& f : faces)
    for (const Point& k : f.face.keypoints) {
      if (k.x < 0 || k.y < 0 || k.x >= float(dots.width) || k.y >= float(dots.height)) continue;
      ++points;
      white += is_white(dots, k);
      white_before += is_white(plain, k);
    }
  CHECK(points >= 6 * int(faces.size()) - 2);
  CHECK(white == points);  // labels never cover their own face when there is room
  CHECK(white_before < points / 2);
}

TEST_CASE("cli: bad images give exit 1 and a message naming the file, other images still run") {
  const std::string dir = test::temp_dir("bad");
  write_bytes(dir + "/empty.jpg", "");
  std::mt19937 rng(1);
  std::string noise(5000, '\0');
  for (char& c : noise) c = char(rng());
  write_bytes(dir + "/noise.jpg", noise);
  const std::string good = read_bytes(source_path("tests/data/scenes/astronaut.jpg"));
  write_bytes(dir + "/truncated.jpg", good.substr(0, 300));
  for (const char* name : {"empty.jpg", "noise.jpg", "truncated.jpg", "missing.jpg"}) {
    CAPTURE(name);
    const auto r = mien_cli("image " + quote(dir + "/" + name));
    CHECK(r.status == 1);
    CHECK(r.out.find(name) != std::string::npos);
    CHECK(r.out.find("error") != std::string::npos);
  }
  // One bad file among good ones: the good one is still reported, the exit code is 1.
  const auto mixed = mien_cli("image --json " + quote(dir + "/noise.jpg") + " " +
                              quote(source_path("tests/data/scenes/astronaut.jpg")));
  CHECK(mixed.status == 1);
  CHECK(mixed.out.find("astronaut.jpg") != std::string::npos);
  CHECK(mixed.out.find("\"faces\":[{") != std::string::npos);
  // A folder without images, and a damaged model.
  const std::string empty_dir = test::temp_dir("noimages");
  CHECK(mien_cli("image " + quote(empty_dir)).status == 1);
  write_bytes(dir + "/bad.mien", "MIEN garbage");
  CHECK(mien_cli("image --emotion " + quote(dir + "/bad.mien") + " " +
                 quote(source_path("tests/data/scenes/astronaut.jpg")))
            .status == 1);
}

TEST_CASE("examples build and run") {
  const std::string img = quote(source_path("tests/data/scenes/faceapi_sample1.jpg"));
  const auto minimal = test::run_command(std::string(MIEN_EXAMPLES_DIR) + "/example_minimal", img);
  CHECK(minimal.status == 0);
  CHECK(count(minimal.out, "face at") == 3);
  const std::string dir = test::temp_dir("example");
  const auto full = test::run_command(std::string(MIEN_EXAMPLES_DIR) + "/example_image_emotions",
                                      img + " --out " + quote(dir));
  CHECK(full.status == 0);
  CHECK(full.out.find("3 face(s)") != std::string::npos);
  CHECK(load_image(dir + "/faceapi_sample1.png").width == 640);
  const auto custom = test::run_command(std::string(MIEN_EXAMPLES_DIR) + "/example_custom_graph",
                                        quote(dir + "/custom.mien"));
  CHECK(custom.status == 0);
  CHECK(Model::load(dir + "/custom.mien").metadata().get_string("model.name") == "custom-example");
}
