// Bad input to the command line (issue #11): names that ffmpeg would read as protocols or
// options, models in the wrong role, outputs that would overwrite each other, Ctrl-C in
// `mien video`, damaged streams, odd arguments. Exit status and messages are checked; the
// outputs must be complete and valid.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.hpp"
#include "mien/model/format.hpp"
#include "mien/model/graph.hpp"
#include "test_util.hpp"

using mien::test::mien_cli;
using mien::test::quote;
using mien::test::run_command;
using mien::test::source_path;

namespace {

using mien::test::have_ffmpeg;
using mien::test::read_text;

using mien::test::contains;

bool exists(const std::string& path) {
  return std::ifstream(path).good();
}

void ffmpeg(const std::string& args) {
  const auto r = run_command("ffmpeg", "-v error -y " + args);
  INFO(r.out);
  REQUIRE(r.status == 0);
}

// A short H.264 clip of a face photo: `seconds` long at 10 frames/s, 320x240, a keyframe
// every 5 frames, encoded single-threaded so that its bytes are reproducible.
void face_clip(const std::string& path, int seconds = 3) {
  ffmpeg("-loop 1 -framerate 10 -t " + std::to_string(seconds) + " -i " +
         quote(source_path("tests/data/scenes/astronaut.jpg")) +
         " -vf scale=320:240 -c:v libx264 -threads 1 -g 5 -pix_fmt yuv420p " + quote(path));
}

// Every line of a CSV file has `fields` fields (no quoting in the files checked).
bool csv_complete(const std::string& text, std::size_t fields) {
  if (text.empty() || text.back() != '\n') return false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::size_t n = 1;
    for (char c : line) n += c == ',';
    if (n != fields) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("bad input cli: video names reach ffmpeg as local files, never protocols or options") {
  if (!have_ffmpeg()) return;
  const std::string dir = mien::test::temp_dir("ffmpeg_names");
  // a.mp4: 2 s (20 frames); the oddly named files: 1 s (10 frames).
  face_clip(dir + "/a.mp4", 2);
  face_clip(dir + "/one.mp4", 1);
  const std::string one = read_text(dir + "/one.mp4");
  for (const char* name : {"concat:a.mp4|a.mp4", "a:b.mp4"}) {
    CAPTURE(name);
    std::ofstream(dir + "/" + name, std::ios::binary) << one;
    // Relative names, as a user types them.
    const auto r =
        run_command("sh", "-c " + quote("cd " + quote(dir) + " && " + quote(MIEN_CLI_PATH) +
                                        " video --quiet " + quote(name)));
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(contains(r.out, " 10 frames"));  // the file itself, not a.mp4 twice (40 frames)
  }
  // An output name that looks like an option.
  const auto d =
      run_command("sh", "-c " + quote("cd " + quote(dir) + " && " + quote(MIEN_CLI_PATH) +
                                      " video --quiet --draw=-y.mp4 one.mp4"));
  INFO(d.out);
  CHECK(d.status == 0);
  CHECK(exists(dir + "/-y.mp4"));
}

TEST_CASE("bad input cli: a model given in the wrong role is an error") {
  const std::string photo = quote(source_path("tests/data/scenes/astronaut.jpg"));
  const auto g =
      mien_cli("image --gender " + quote(source_path("weights/emotion.mien")) + " " + photo);
  CHECK(g.status == 1);
  CHECK(contains(g.out, "emotion.mien"));
  CHECK(contains(g.out, "model.task"));
  const auto e =
      mien_cli("image --emotion " + quote(source_path("weights/gender.mien")) + " " + photo);
  CHECK(e.status == 1);
  CHECK(contains(e.out, "gender.mien"));
  const auto d =
      mien_cli("image --detector " + quote(source_path("weights/emotion.mien")) + " " + photo);
  CHECK(d.status == 1);
  const auto folder = mien_cli("image --emotion " + quote(source_path("weights")) + " " + photo);
  CHECK(folder.status == 1);
  CHECK(contains(folder.out, "folder"));
}

TEST_CASE("bad input cli: NaN weights fail mien check and mien image, naming the layer") {
  const std::string dir = mien::test::temp_dir("nan_model");
  mien::MienFile f = mien::read_mien(source_path("weights/emotion.mien"));
  const mien::GraphDef g = mien::graph_from_file(f, "emotion.mien");
  std::string node;
  for (const mien::NodeDef& n : g.nodes)
    if (f.tensors.count(n.name + "/weight")) node = n.name;
  REQUIRE(!node.empty());
  for (float& v : f.tensors[node + "/weight"].data) v = NAN;
  const std::string path = dir + "/nan.mien";
  mien::write_mien(path, f);
  const auto check = mien_cli("check " + quote(path));
  INFO(check.out);
  CHECK(check.status == 1);
  CHECK(contains(check.out, "node '" + node + "'"));
  CHECK(!contains(check.out, "max abs error 0"));
  const auto image = mien_cli("image --emotion " + quote(path) + " " +
                              quote(source_path("tests/data/scenes/astronaut.jpg")));
  CHECK(image.status == 1);
  CHECK(!contains(image.out, "-nan"));
  CHECK(contains(image.out, "nan.mien"));
}

TEST_CASE("bad input cli: inputs with the same name in different folders keep separate outputs") {
  const std::string dir = mien::test::temp_dir("same_names");
  run_command("mkdir", "-p " + quote(dir + "/x1") + " " + quote(dir + "/x2"));
  run_command(
      "cp", quote(source_path("tests/data/scenes/astronaut.jpg")) + " " + quote(dir + "/x1/p.jpg"));
  run_command("cp", quote(source_path("tests/data/scenes/faceapi_sample1.jpg")) + " " +
                        quote(dir + "/x2/p.jpg"));
  const auto img = mien_cli("image --draw " + quote(dir + "/out") + " " + quote(dir + "/x1/p.jpg") +
                            " " + quote(dir + "/x2/p.jpg"));
  INFO(img.out);
  CHECK(img.status == 0);
  CHECK(exists(dir + "/out/x1_p.jpg"));
  CHECK(exists(dir + "/out/x2_p.jpg"));
  CHECK(contains(img.out, "note"));
  if (!have_ffmpeg()) return;
  run_command("mkdir", "-p " + quote(dir + "/d1") + " " + quote(dir + "/d2"));
  face_clip(dir + "/d1/clip.mp4", 1);
  face_clip(dir + "/d2/clip.mp4", 2);
  const auto vid = mien_cli("video --quiet --json " + quote(dir + "/j") + " --csv " +
                            quote(dir + "/c") + " " + quote(dir + "/d1/clip.mp4") + " " +
                            quote(dir + "/d2/clip.mp4") + " " + quote(dir + "/d1/clip.mp4"));
  INFO(vid.out);
  CHECK(vid.status == 0);
  for (const char* f : {"/j/d1_clip.json", "/j/d2_clip.json", "/j/d1_clip-2.json", "/c/d1_clip.csv",
                        "/c/d2_clip.csv"}) {
    CAPTURE(f);
    CHECK(exists(dir + f));
  }
  // 1 s and 2 s: the two timelines differ in length.
  CHECK(read_text(dir + "/j/d1_clip.json").size() < read_text(dir + "/j/d2_clip.json").size());
}

TEST_CASE("bad input cli: SIGINT/SIGTERM in mien video write complete outputs, exit 130/143") {
  if (!have_ffmpeg()) return;
  const std::string dir = mien::test::temp_dir("interrupt");
  face_clip(dir + "/clip.mp4", 2);
  for (const char* sig : {"INT", "TERM"}) {
    CAPTURE(sig);
    // Standard input that never ends by itself (a camera or a live stream): the clip looped
    // at its real rate. mien is stopped after 3 s, as a user would with Ctrl-C.
    const std::string script =
        "ffmpeg -v quiet -re -stream_loop -1 -i " + quote(dir + "/clip.mp4") +
        " -c copy -f matroska - | " + quote(MIEN_CLI_PATH) + " video --quiet --json " +
        quote(dir + "/t.json") + " --csv " + quote(dir + "/t.csv") + " --summary " +
        quote(dir + "/s.csv") + " - & pid=$!; sleep 3; kill -" + sig +
        " $pid; wait $pid; echo exit=$?";
    const auto r = run_command("sh", "-c " + quote(script));
    INFO(r.out);
    CHECK(contains(r.out, std::string("exit=") + (sig == std::string("INT") ? "130" : "143")));
    CHECK(contains(r.out, "interrupted"));
    const std::string json = read_text(dir + "/t.json");
    CHECK(json.rfind("[", 0) == 0);
    CHECK(json.size() >= 3);
    CHECK(json.substr(json.size() - 2) == "]\n");
    const std::string csv = read_text(dir + "/t.csv");
    const std::string header = csv.substr(0, csv.find('\n'));
    const std::size_t header_fields =
        1 + std::size_t(std::count(header.begin(), header.end(), ','));
    CHECK(csv_complete(csv, header_fields));
    CHECK(contains(read_text(dir + "/s.csv"), "\n-,"));
  }
}

TEST_CASE("bad input cli: outputs are checked before the video is decoded") {
  if (!have_ffmpeg()) return;
  const std::string dir = mien::test::temp_dir("unwritable");
  face_clip(dir + "/clip.mp4", 1);
  const auto r = mien_cli("video --quiet --json " + quote(dir + "/no/such/dir/t.json") + " " +
                          quote(dir + "/clip.mp4"));
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK(contains(r.out, "no/such/dir/t.json"));
  CHECK(!contains(r.out, "frames ("));  // no analysis ran
}

TEST_CASE("bad input cli: summary CSV quoting and JSON of non-UTF-8 names") {
  const std::string dir = mien::test::temp_dir("names");
  const std::string odd = dir + "/a,b \"c\"\xff.jpg";
  run_command("cp", quote(source_path("tests/data/scenes/astronaut.jpg")) + " " + quote(odd));
  const auto j = mien_cli("image --json " + quote(odd));
  INFO(j.out);
  CHECK(j.status == 0);
  CHECK(!contains(j.out, "\xff"));
  CHECK(contains(j.out, "\\ufffd.jpg"));
  CHECK(contains(j.out, "a,b \\\"c\\\""));
  if (!have_ffmpeg()) return;
  const std::string clip = dir + "/x,y \"z\"\xfe.mp4";
  face_clip(clip, 1);
  const auto v = mien_cli("video --quiet --summary " + quote(dir + "/s.csv") + " --json " +
                          quote(dir + "/t.json") + " " + quote(clip));
  INFO(v.out);
  CHECK(v.status == 0);
  const std::string s = read_text(dir + "/s.csv");
  CHECK(contains(s, "file,label,decoding_errors\n\"x,y \"\"z\"\"\xfe.mp4\",happy,0\n"));
}

TEST_CASE("bad input cli: decoding errors are counted and reported; --strict makes them fatal") {
  if (!have_ffmpeg()) return;
  const std::string dir = mien::test::temp_dir("damaged");
  face_clip(dir + "/clip.mp4", 6);
  std::string bytes = read_text(dir + "/clip.mp4");
  // 200 bytes of noise in the middle (a fixed LCG: the same damage on every run).
  uint32_t x = 12345;
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 200; ++i) {
    x = x * 1664525u + 1013904223u;
    bytes[i] = char(x >> 24);
  }
  std::ofstream(dir + "/bad.mp4", std::ios::binary) << bytes;
  const auto r = mien_cli("video --quiet --json " + quote(dir + "/t.json") + " --summary " +
                          quote(dir + "/s.csv") + " " + quote(dir + "/bad.mp4"));
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(contains(r.out, "warning"));
  CHECK(contains(r.out, "decoding error"));
  CHECK(contains(read_text(dir + "/t.json"), "{\"type\":\"decoding_errors\",\"count\":"));
  CHECK(!contains(read_text(dir + "/s.csv"), ",0\n"));
  const auto strict = mien_cli("video --quiet --strict " + quote(dir + "/bad.mp4"));
  CHECK(strict.status == 1);
  CHECK(contains(strict.out, "bad.mp4"));
  // The intact clip: no warning, count 0.
  const auto good = mien_cli("video --quiet --strict --summary " + quote(dir + "/g.csv") + " " +
                             quote(dir + "/clip.mp4"));
  CHECK(good.status == 0);
  CHECK(!contains(good.out, "decoding error"));
  CHECK(contains(read_text(dir + "/g.csv"), "clip.mp4,happy,0\n"));
}

TEST_CASE("bad input cli: --, stdin, missing option values, --recursive, --max-pixels, eval 0/0") {
  const std::string dir = mien::test::temp_dir("args");
  const std::string photo = source_path("tests/data/scenes/astronaut.jpg");
  // After "--" a name starting with dashes is a file.
  run_command("cp", quote(photo) + " " + quote(dir + "/--json.jpg"));
  const auto dd = run_command("sh", "-c " + quote("cd " + quote(dir) + " && " +
                                                  quote(MIEN_CLI_PATH) + " image -- --json.jpg"));
  INFO(dd.out);
  CHECK(dd.status == 0);
  CHECK(dd.out.rfind("--json.jpg  ", 0) == 0);
  // "-" is standard input.
  const auto in =
      run_command("sh", "-c " + quote(quote(MIEN_CLI_PATH) + " image --json - < " + quote(photo)));
  INFO(in.out);
  CHECK(in.status == 0);
  CHECK(contains(in.out, "\"file\":\"-\""));
  CHECK(contains(in.out, "\"emotion\""));
  // An option without its value does not take the next option as one.
  const auto th = mien_cli("image --threads --json " + quote(photo));
  CHECK(th.status == 2);
  CHECK(contains(th.out, "--threads needs a value"));
  const auto dr = mien_cli("image --draw --json " + quote(photo));
  CHECK(dr.status == 2);
  // Folders: sub-folders only with --recursive.
  run_command("mkdir", "-p " + quote(dir + "/tree/sub/.hidden"));
  run_command("cp", quote(photo) + " " + quote(dir + "/tree/sub/a.jpg"));
  run_command("cp", quote(photo) + " " + quote(dir + "/tree/sub/.hidden/b.jpg"));
  const auto flat = mien_cli("image " + quote(dir + "/tree"));
  CHECK(flat.status == 1);
  CHECK(contains(flat.out, "--recursive"));
  const auto rec = mien_cli("image --recursive " + quote(dir + "/tree"));
  INFO(rec.out);
  CHECK(rec.status == 0);
  CHECK(contains(rec.out, "sub/a.jpg"));
  CHECK(!contains(rec.out, "b.jpg"));
  // --max-pixels.
  const auto mp = mien_cli("image --max-pixels 1000 " + quote(photo));
  CHECK(mp.status == 1);
  CHECK(contains(mp.out, "exceeds the limit of 1000 pixels"));
  // eval with nothing evaluated (no face found in any photo) is a failure, not "0/0".
  run_command("mkdir", "-p " + quote(dir + "/set/happy"));
  {
    std::ofstream ppm(dir + "/set/happy/wall.ppm", std::ios::binary);
    ppm << "P6\n400 300\n255\n" << std::string(400 * 300 * 3, '\x80');
  }
  const auto ev = mien_cli("eval " + quote(dir + "/set"));
  INFO(ev.out);
  CHECK(ev.status == 1);
  CHECK(contains(ev.out, "no image could be evaluated"));
}
